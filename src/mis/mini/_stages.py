"""The demo's stage cache and its CPU-thread choice.

A stage is reused only when its *key* matches: everything that defines its result (seed, sizes, steps,
learning rates, the world file, and the keys of the stages it reads), never things that only change
speed (threads). The key's hash and the stage's measured wall time are written to
``OUT/stages/<name>.json`` after the stage's output is complete, so that file is the completion marker;
a rerun that reuses a stage reports the time recorded when it ran, marked cached. A stage whose key
changed has its output folder removed and runs again, and every stage downstream of it follows,
because their keys contain its hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.train import TrainProgress

__all__ = ["DemoEvent", "DemoHook", "StageCache", "ThreadGovernor", "choose_threads", "key_hash"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoEvent:
    """What the demo is doing, for a UI: ``start`` / ``done`` / ``cached`` a stage, or ``train`` progress."""

    stage: str
    kind: str
    what: str
    seconds: float | None = None
    train: TrainProgress | None = None


DemoHook = Callable[[DemoEvent], None]


def key_hash(key: dict[str, Any]) -> str:
    """Stable short hash of a stage key (JSON with sorted keys)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class StageCache:
    """Runs stages under ``out``, reusing those whose key and output are unchanged; records wall times."""

    out: Path
    on_event: DemoHook | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)

    def _record(self, name: str) -> Path:
        return self.out / "stages" / f"{name}.json"

    def emit(self, event: DemoEvent) -> None:
        """Send ``event`` to the hook, if any."""
        if self.on_event is not None:
            self.on_event(event)

    def run(self, name: str, what: str, key: dict[str, Any], outputs: list[Path], done: Path,
            fn: Callable[[], Any]) -> str:
        """Run ``fn`` unless a finished run with the same key left ``done``; return the key's hash.

        ``outputs`` are the folders the stage owns: removed before it runs again under a new key.
        """
        digest = key_hash(key)
        self.hashes[name] = digest
        record = self._record(name)
        saved = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        if saved.get("hash") == digest and done.exists():
            self.seconds[name] = float(saved.get("seconds", 0.0))
            self.cached.append(name)
            logger.debug("demo: %s reused (%s)", name, digest)
            self.emit(DemoEvent(name, "cached", what, self.seconds[name]))
            return digest
        record.unlink(missing_ok=True)
        for path in outputs:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        self.emit(DemoEvent(name, "start", what))
        t0 = time.perf_counter()
        fn()
        seconds = round(time.perf_counter() - t0, 2)
        self.seconds[name] = seconds
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"hash": digest, "key": key, "seconds": seconds,
                                      "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1, default=str)
                          + "\n", encoding="utf-8")
        self.emit(DemoEvent(name, "done", what, seconds))
        return digest


def _cpu_sample() -> tuple[int, int] | None:
    """(total, idle) jiffies of all CPUs from /proc/stat, None where unreadable."""
    try:
        fields = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    return sum(values[:8]), values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _threads_for(others_busy: float) -> int:
    """The usable cores that ``others_busy`` cores of other work leave idle (at least 1)."""
    idle = (os.cpu_count() or _usable_cores()) - others_busy
    return max(1, min(_usable_cores(), int(idle + 0.5)))


def choose_threads(requested: int | None = None, *, interval_s: float = 0.5) -> int:
    """Torch threads for the next stage: ``requested``, else the usable cores that other work leaves idle.

    OpenMP threads wait for each other at every operation, so a thread on a core another process keeps
    busy slows all of them down (measured: two threads 2-5x slower than one on a loaded 2-core machine).
    The busy share is measured now (``interval_s`` of /proc/stat), not the 1-minute load average, which
    lags a job that has just started; the load average is the fallback.
    """
    if requested:
        return requested
    first = _cpu_sample()
    time.sleep(interval_s)
    second = _cpu_sample()
    if first is None or second is None or second[0] <= first[0]:
        busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    else:
        busy = (os.cpu_count() or 1) * (1 - (second[1] - first[1]) / (second[0] - first[0]))
    return _threads_for(busy)


@dataclass
class ThreadGovernor:
    """Keeps torch's threads at the cores other work leaves idle, re-checked while a stage runs.

    A choice made at the start of a 3-minute stage goes stale when another job starts (measured: a
    general stage that began on an idle machine with two threads ran 2-3x slower once other test suites
    started). :meth:`check` is cheap and called at every training step; every ``every_s`` seconds it
    takes the machine's busy cores from /proc/stat over the interval, subtracts this process's own CPU
    time, and resets the thread count if the idle cores changed. ``requested`` fixes it instead.
    """

    requested: int | None = None
    every_s: float = 10.0
    used: list[int] = field(default_factory=list)
    _last: tuple[float, float, tuple[int, int]] | None = None

    def _set(self, threads: int) -> None:
        import torch

        if not self.used or self.used[-1] != threads:
            torch.set_num_threads(threads)
            self.used.append(threads)
            logger.debug("demo: torch threads -> %d", threads)

    def start(self) -> int:
        """Choose the threads for a stage about to run (0.5 s measurement); return them."""
        self._set(choose_threads(self.requested))
        sample = _cpu_sample()
        self._last = (time.perf_counter(), time.process_time(), sample) if sample else None
        return self.used[-1]

    def check(self) -> None:
        """Re-measure when ``every_s`` has passed since the last measurement; adjust the threads."""
        if self.requested or self._last is None:
            return
        wall0, own0, (total0, idle0) = self._last
        wall = time.perf_counter()
        if wall - wall0 < self.every_s:
            return
        sample = _cpu_sample()
        if sample is None or sample[0] <= total0:
            return
        own = time.process_time()
        total, idle = sample
        machine_busy = (os.cpu_count() or 1) * (1 - (idle - idle0) / (total - total0))
        others = max(0.0, machine_busy - (own - own0) / (wall - wall0))
        self._last = (wall, own, sample)
        self._set(_threads_for(others))
