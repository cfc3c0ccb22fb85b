"""The image gate's full decode, per sample, in threads ahead of the requests (docs/evaluate.md, the gate).

Before a run's first request every image gets the cheap checks (:meth:`mis.data.ImageGate.quick`: inside the
root, a file, format and pixel budget from the header, or a remembered verdict). The full decode of the
images still unchecked then runs here, in the order the run will send the samples, on a few threads (zlib,
crc32 and sha256 release the GIL), while earlier samples are already on the network. Each sample's solver
awaits :meth:`DeepChecks.wait` before it sends anything, so **no request of a sample leaves before that
sample's images passed the full check**. A failing image either stops the run (``stop``: samples not yet
sent are not sent; everything finished is kept) or leaves its sample out as invalid (``skip``).

The checks only ever hold a few 64 KB pieces per thread; their verdicts go to the gate's cache as they finish.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mis.data._gate import ImageCheck, ImageGate
from mis.errors import MisError

logger = logging.getLogger(__name__)
#: Threads for the full decode (a few use every core: the heavy parts release the GIL).
WORKERS = max(1, min(4, os.cpu_count() or 1))


class ImageRejected(MisError):
    """A sample's image failed the full check during a run: the sample sends nothing."""


@dataclass
class SampleImages:
    """One sample's images: the cheap checks' results, and which still need the full decode."""

    uid: str
    checks: list[ImageCheck]
    pending: list[tuple[int, ImageGate, str]]
    """(image index, gate, path as the gate takes it) of each image still to decode."""
    describe: Any
    """``describe(checks) -> (messages, invalid row)`` for a sample with a failed image."""


@dataclass
class DeepChecks:
    """The full checks of one unit's samples, started in the run's order, awaited per sample."""

    benchmark: str
    on_invalid: str
    hint: str
    samples: dict[str, SampleImages] = field(default_factory=dict)
    gates: list[ImageGate] = field(default_factory=list)
    stopped: str | None = None
    """The first failure's message when ``on_invalid == "stop"`` (every later sample then sends nothing)."""
    invalid: dict[str, dict[str, Any]] = field(default_factory=dict)
    """uid -> the samples.jsonl row of each sample left out (``skip``), found during the run."""
    _futures: dict[str, Future[list[ImageCheck]]] = field(default_factory=dict)
    _pool: ThreadPoolExecutor | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def todo(self) -> int:
        """Images still to decode."""
        return sum(len(s.pending) for s in self.samples.values())

    def start(self, order: Sequence[str]) -> None:
        """Submit the samples in ``order`` (the ones this process will run), first to be sent first."""
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mis-image-gate")
        for uid in order:
            item = self.samples.get(uid)
            if item is not None and item.pending:
                self._futures[uid] = self._pool.submit(self._decode, item)
        logger.debug("%s: full image check of %d samples started", self.benchmark, len(self._futures))

    def _decode(self, item: SampleImages) -> list[ImageCheck]:
        checks = list(item.checks)
        for index, gate, path in item.pending:
            checks[index] = gate.check(path)
        return checks

    async def wait(self, uid: str) -> list[ImageCheck]:
        """The sample's full verdicts; raises :class:`ImageRejected` when it must send nothing."""
        if self.stopped is not None:
            raise ImageRejected(f"not sent: the run stops at an invalid image ({self.stopped})")
        item = self.samples.get(uid)
        if item is None:
            return []
        future = self._futures.get(uid)
        checks = await asyncio.wrap_future(future) if future is not None else item.checks
        if all(c.ok for c in checks):
            return checks
        messages, row = item.describe(checks)
        with self._lock:
            if self.on_invalid == "stop":
                self.stopped = self.stopped or messages[0]
            else:
                self.invalid[uid] = row
        raise ImageRejected(f"sample {uid}: not sent: {messages[0]}")

    def close(self) -> None:
        """Stop the decoding threads (what is queued is dropped) and keep the verdicts found so far."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for gate in self.gates:
            gate.save()

    def stop_message(self, data: str) -> str | None:
        """The run's error when it stopped at an invalid image (None otherwise)."""
        if self.stopped is None:
            return None
        return (f"{self.benchmark}: {data}: {self.stopped}. The run stopped there: finished samples are kept "
                f"and a rerun continues from them. {self.hint}")


#: The runs' deep checks by key (a solver takes a key, not an object: inspect records solver arguments).
_ACTIVE: dict[str, DeepChecks] = {}


def register(key: str, checks: DeepChecks) -> str:
    """Make ``checks`` reachable from a solver by ``key``."""
    _ACTIVE[key] = checks
    return key


def lookup(key: str | None) -> DeepChecks | None:
    """The deep checks registered under ``key`` (None: the unit has none)."""
    return _ACTIVE.get(key) if key else None


def release(key: str) -> None:
    """Forget a finished run's checks (closing them first)."""
    checks = _ACTIVE.pop(key, None)
    if checks is not None:
        checks.close()
