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

__all__ = ["DemoEvent", "DemoHook", "StageCache", "choose_threads", "key_hash"]

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


def _busy_cores(cores: int, interval_s: float) -> float | None:
    """Cores kept busy by all processes over ``interval_s`` (from /proc/stat), None where unreadable."""

    def sample() -> tuple[int, int] | None:
        try:
            fields = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:]
        except OSError:
            return None
        values = [int(v) for v in fields]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values[:8]), idle

    first = sample()
    time.sleep(interval_s)
    second = sample()
    if first is None or second is None or second[0] <= first[0]:
        return None
    total, idle = second[0] - first[0], second[1] - first[1]
    machine = os.cpu_count() or cores
    return machine * (1 - idle / total)


def choose_threads(requested: int | None = None, *, interval_s: float = 0.5) -> int:
    """Torch threads for the next stage: ``requested``, else the usable cores that other work leaves idle.

    OpenMP threads wait for each other at every operation, so a thread on a core another process keeps
    busy slows all of them down (measured: two threads 2-5x slower than one on a loaded 2-core machine).
    The busy share is measured now (0.5 s of /proc/stat), not the 1-minute load average, which lags a
    job that has just started; the load average is the fallback.
    """
    if requested:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = _busy_cores(cores, interval_s)
    if busy is None:
        busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    idle = (os.cpu_count() or cores) - busy
    return max(1, min(cores, int(idle + 0.5)))
