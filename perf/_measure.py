"""Shared measuring helpers for the speed and memory scripts in perf/.

Single runs on a shared machine are not evidence: every script repeats its baseline and its candidate
*interleaved* (A, B, A, B, ...), so a load spike hits both, and reports min / median / max of each and the
ratio of the medians, together with the machine's load while it ran.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Series:
    """Repeated measurements of one variant (seconds, or any unit)."""

    name: str
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median of the values."""
        return statistics.median(self.values)

    def spread(self, unit: str = "s", digits: int = 2) -> str:
        """``min / median / max`` as text."""
        lo, mid, hi = min(self.values), self.median, max(self.values)
        return f"{lo:.{digits}f} / {mid:.{digits}f} / {hi:.{digits}f} {unit}"


def interleaved(variants: dict[str, Callable[[], float]], repeats: int) -> dict[str, Series]:
    """Run each variant ``repeats`` times, alternating between them; each call returns its measurement."""
    series = {name: Series(name) for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            series[name].values.append(run())
    return series


def load_average() -> str:
    """The 1/5/15-minute load averages and the core count, for the record."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


@dataclass
class ProcessStats:
    """What one measured command cost: wall seconds, CPU seconds and peak RSS of its process tree."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int


def run_measured(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 poll_s: float = 0.05, stdout_path: Path | None = None) -> ProcessStats:
    """Run ``cmd`` and sample the summed RSS of it and its descendants until it exits (psutil)."""
    import resource

    import psutil

    out = stdout_path.open("w") if stdout_path else subprocess.DEVNULL
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    peak = 0
    cpu: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
                    except psutil.NoSuchProcess:
                        continue
                peak = max(peak, rss)
            except psutil.NoSuchProcess:
                return
            stop.wait(poll_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    returncode = proc.wait()
    stop.set()
    thread.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if stdout_path:
        out.close()  # type: ignore[union-attr]
    return ProcessStats(wall_s=wall, cpu_s=max(waited, sum(cpu.values())), peak_rss_mb=peak / 2**20,
                        returncode=returncode)


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
