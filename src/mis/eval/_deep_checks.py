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
from collections.abc import Iterator, Sequence
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
    """The full checks of one unit's samples, started in the run's order, awaited per sample.

    A few threads walk the run's order and decode each sample's pending images in place; a sample that
    awaits its verdicts before they are ready parks one asyncio future until its thread finishes it. Nothing
    is queued per sample (no executor future, work item or lock for each of thousands of samples): what a
    run holds for the checks is the verdicts themselves, plus one future per sample in flight.
    """

    benchmark: str
    on_invalid: str
    hint: str
    samples: dict[str, SampleImages] = field(default_factory=dict)
    gates: list[ImageGate] = field(default_factory=list)
    stopped: str | None = None
    """The first failure's message when ``on_invalid == "stop"`` (every later sample then sends nothing)."""
    invalid: dict[str, dict[str, Any]] = field(default_factory=dict)
    """uid -> the samples.jsonl row of each sample left out (``skip``), found during the run."""
    _order: Iterator[str] | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _state: dict[str, str] = field(default_factory=dict)
    """uid -> "queued" (in the run's order, not taken yet) or "busy" (being decoded); gone once done."""
    _waiters: dict[str, list[asyncio.Future[None]]] = field(default_factory=dict)
    _errors: dict[str, BaseException] = field(default_factory=dict)
    _closing: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def todo(self) -> int:
        """Images still to decode."""
        return sum(len(s.pending) for s in self.samples.values())

    def start(self, order: Sequence[str]) -> None:
        """Decode the samples in ``order`` (the ones this process will run), first to be sent first."""
        if self._order is not None:
            return
        queued = [uid for uid in order if uid in self.samples and self.samples[uid].pending]
        self._state = dict.fromkeys(queued, "queued")
        self._order = iter(queued)
        for k in range(WORKERS):
            thread = threading.Thread(target=self._work, name=f"mis-image-gate-{k}", daemon=True)
            self._threads.append(thread)
            thread.start()
        logger.debug("%s: full image check of %d samples started", self.benchmark, len(queued))

    def _next(self) -> SampleImages | None:
        """The next queued sample in the run's order (None: none left, or closing)."""
        with self._lock:
            assert self._order is not None
            for uid in self._order:
                if self._closing:
                    return None
                if self._state.get(uid) == "queued":
                    self._state[uid] = "busy"
                    return self.samples[uid]
            return None

    def _work(self) -> None:
        while (item := self._next()) is not None:
            self._finish(item)

    def _finish(self, item: SampleImages) -> None:
        """Decode ``item``'s pending images, keep the verdicts in place and wake whoever awaits them."""
        try:
            checks = list(item.checks)
            for index, gate, path in item.pending:
                checks[index] = gate.check(path)
            error: BaseException | None = None
        except Exception as exc:  # a bug, not a bad image: the sample's wait raises it
            error = exc
        with self._lock:
            if error is None:
                item.checks, item.pending = checks, []
            else:
                self._errors[item.uid] = error
            self._state.pop(item.uid, None)
            waiters = self._waiters.pop(item.uid, [])
        _wake_all(waiters)

    async def _verdicts(self, item: SampleImages) -> list[ImageCheck]:
        """``item``'s full verdicts: awaits its turn in the run's order, or decodes it here without one.

        (Without one: not in the order, or the run is closing.)
        """
        while True:
            with self._lock:
                if not item.pending or item.uid in self._errors:
                    break
                state = self._state.get(item.uid)
                if state == "busy" or (state == "queued" and not self._closing):
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.setdefault(item.uid, []).append(waiter)
                else:
                    self._state[item.uid] = "busy"
                    waiter = None
            if waiter is None:  # off the event loop, as the threads do
                await asyncio.to_thread(self._finish, item)
            else:
                await waiter
        if item.uid in self._errors:
            raise self._errors[item.uid]
        return item.checks

    async def wait(self, uid: str) -> list[ImageCheck]:
        """The sample's full verdicts; raises :class:`ImageRejected` when it must send nothing."""
        if self.stopped is not None:
            raise ImageRejected(f"not sent: the run stops at an invalid image ({self.stopped})")
        item = self.samples.get(uid)
        if item is None:
            return []
        checks = await self._verdicts(item)
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
        """Stop the decoding threads (each finishes its sample) and keep the verdicts found so far."""
        with self._lock:
            self._closing = True  # a sample still queued is decoded by its own wait from now on
            queued = [uid for uid, state in self._state.items() if state == "queued"]
            waiters = [w for uid in queued for w in self._waiters.pop(uid, [])]
        _wake_all(waiters)
        for thread in self._threads:
            thread.join()
        for gate in self.gates:
            gate.save()

    def stop_message(self, data: str) -> str | None:
        """The run's error when it stopped at an invalid image (None otherwise)."""
        if self.stopped is None:
            return None
        return (f"{self.benchmark}: {data}: {self.stopped}. The run stopped there: finished samples are kept "
                f"and a rerun continues from them. {self.hint}")


def _wake_all(waiters: Sequence[asyncio.Future[None]]) -> None:
    """Wake parked waits from any thread (each on its own event loop)."""
    for waiter in waiters:
        waiter.get_loop().call_soon_threadsafe(_wake, waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # (a cancelled sample's waiter is done already)
        waiter.set_result(None)


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
