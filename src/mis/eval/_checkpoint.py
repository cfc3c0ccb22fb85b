"""Per-sample, append-only checkpoint: the structural basis of resume (STYLE habit 12).

Each finished sample (generated *and* judged) is one JSON line carrying its ``uid`` and the run
``key`` (a hash of model, judge, rubric, prompt and decoding), flushed and fsynced before the next
one, so a kill loses at most the samples in flight. Reading keeps the first line per uid with the
matching key and skips a torn last line, so a rerun never counts a sample twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.jsonl"


def run_key(identity: Mapping[str, Any]) -> str:
    """Short stable hash of what makes a result (changing any of it invalidates the checkpoint)."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class Checkpoint:
    """Append-only JSONL of finished sample records for one run key."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = Path(path)
        self.key = key
        self._lock = threading.Lock()

    def load(self) -> dict[str, dict[str, Any]]:
        """Map uid -> record for this key (first occurrence wins; torn lines are ignored)."""
        done: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return done
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # only a write killed mid-line leaves this; that sample simply runs again
                logger.warning("%s:%d: ignoring a partial line (interrupted write)", self.path, lineno)
                continue
            if record.get("key") == self.key and record.get("uid") not in done:
                done[record["uid"]] = record
        return done

    def append(self, record: Mapping[str, Any]) -> None:
        """Durably add one finished record (flush + fsync before returning)."""
        line = json.dumps({**record, "key": self.key}, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            needs_newline = self._ends_torn()
            with self.path.open("a", encoding="utf-8") as fh:
                if needs_newline:
                    fh.write("\n")
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())

    def _ends_torn(self) -> bool:
        """Whether the file ends without a newline (a previous run died mid-line)."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return False
        with self.path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename (never a half-written file)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
