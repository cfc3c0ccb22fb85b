"""Per-sample, append-only checkpoint: the structural basis of resume (STYLE habit 12).

Each finished sample (generated *and* judged) is one JSON line carrying its ``uid`` and the run
``key`` (a hash of model, judge, rubric, prompt and decoding), flushed and fsynced before the next
one, so a kill loses at most the samples in flight. Reading keeps one record per uid with the
matching key and skips a torn last line, so a rerun never counts a sample twice: the first record
wins, unless it is *retryable* (its judgement was lost to transport failures), in which case a later
record of the same uid replaces it.

A data-parallel run (:mod:`mis.eval._distributed`) gives each rank its own file to append to
(``checkpoint.rank-K.jsonl``); every load reads the plain file, then each rank file by rank, as one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from mis.eval._distributed import rank_file, shard_files
from mis.judges._base import TRANSPORT

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.jsonl"


def run_key(identity: Mapping[str, Any]) -> str:
    """Short stable hash of what makes a result (changing any of it invalidates the checkpoint)."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class Checkpoint:
    """Append-only JSONL of finished sample records for one run key.

    ``rank`` (a data-parallel rank): append to that rank's own file; loads always read every rank's too.
    """

    def __init__(self, path: Path, key: str, rank: int | None = None) -> None:
        self.base = Path(path)
        self.path = rank_file(self.base, rank) if rank is not None else self.base
        self.key = key
        self._lock = threading.Lock()
        self._fh: TextIO | None = None

    def load(self) -> dict[str, dict[str, Any]]:
        """Map uid -> record for this key (first final record wins; torn lines are ignored)."""
        done: dict[str, dict[str, Any]] = {}
        for path in [self.base, *shard_files(self.base)]:
            if path.is_file():
                self._read(path, done)
        return done

    def _read(self, path: Path, done: dict[str, dict[str, Any]]) -> None:
        lines = path.read_text(encoding="utf-8").splitlines()
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # only a write killed mid-line leaves this; that sample simply runs again
                logger.warning("%s:%d: ignoring a partial line (interrupted write)", path, lineno)
                continue
            if record.get("key") != self.key:
                continue
            uid = record.get("uid")
            if uid not in done or retryable(done[uid]):
                done[uid] = record

    def append(self, record: Mapping[str, Any]) -> None:
        """Durably add one finished record (flush + fsync before returning).

        The file is opened once per run (a torn last line of an earlier run is closed off then) and kept
        open: one write and one fsync per record, nothing else.
        """
        line = json.dumps({**record, "key": self.key}, ensure_ascii=False) + "\n"
        with self._lock:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                torn = self._ends_torn()
                self._fh = self.path.open("a", encoding="utf-8")
                if torn:
                    self._fh.write("\n")
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the append handle (reopened by the next append)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def _ends_torn(self) -> bool:
        """Whether the file ends without a newline (a previous run died mid-line)."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return False
        with self.path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"


def retryable(record: Mapping[str, Any]) -> bool:
    """Whether a finished record's judgement was lost to transport failures (a rerun judges it again)."""
    return str(record.get("judge_error") or "").startswith(TRANSPORT)
