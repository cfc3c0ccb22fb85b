"""Crash-safe record files for build stages: append + fsync per record, dedupe on read, markers last.

Layout of one stage folder ``OUT/<stage>/``::

    records.jsonl    forwarded records (one JSON object per line, each with a deterministic ``id``)
    dropped.jsonl    dropped records: {"id", "stage", "code", "reason", "record"}
    ledger.jsonl     one line per finished input record: {"src", "out": [ids], "dropped": [ids]}
    fingerprint.json what made these records (models, prompt hashes, settings)
    _SUCCESS.json    counts, written last and atomically: the stage is complete

Exactly-once comes from the ledger: an input counts as done only once its ledger line is on disk,
and on read only outputs the ledger names are kept (first copy wins). A process killed between
writing outputs and the ledger line simply redoes that input; the request cache makes the redo
cheap and identical.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mis.errors import UsageError

Record = dict[str, Any]


def sha256_text(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_hash(obj: Any) -> str:
    """Hex sha256 of a JSON-serialisable object (key order independent)."""
    return sha256_text(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str))


def repair_tail(path: Path) -> None:
    """Cut a half-written last line (a process killed mid-write) so the next append starts clean."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as fh:
            fh.truncate(cut)


def read_jsonl(path: Path) -> Iterator[Record]:
    """Yield the JSON objects of a JSONL file; a truncated last line is ignored, other bad lines raise."""
    if not path.exists():
        return
    lines = path.read_bytes().split(b"\n")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            if n == len(lines):  # last line without newline: a write cut short by a kill
                return
            raise ValueError(f"{path}: line {n} is not valid JSON: {exc}") from exc


def append_jsonl(path: Path, rows: Iterable[Record], *, fsync: bool = True) -> None:
    """Append rows in one write and fsync, so a kill leaves at most one partial trailing line.

    ``fsync=False`` still survives a killed process (the OS keeps written data); only a power cut
    could lose the last rows.
    """
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not payload:
        return
    with path.open("a", encoding="utf-8") as fh:
        fh.write(payload)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class StageStore:
    """The files of one stage; see the module docstring for the layout and the exactly-once rule."""

    def __init__(self, root: Path, name: str, *, durable: bool = True) -> None:
        self.name = name
        self.durable = durable
        self.dir = root / name
        self.records_path = self.dir / "records.jsonl"
        self.dropped_path = self.dir / "dropped.jsonl"
        self.ledger_path = self.dir / "ledger.jsonl"
        self.success_path = self.dir / "_SUCCESS.json"
        self.fingerprint_path = self.dir / "fingerprint.json"

    # -- lifecycle ---------------------------------------------------------------------------------
    def open(self, fingerprint: dict[str, Any]) -> None:
        """Create the folder, check the fingerprint of existing work and repair torn tails."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.fingerprint_path.exists():
            old = json.loads(self.fingerprint_path.read_text(encoding="utf-8"))
            if old != fingerprint:
                changed = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
                raise StaleStageError(
                    f"stage {self.name!r} in {self.dir} was made with other settings ({', '.join(changed)} "
                    f"changed); rerun with --restart-from {self.name} to redo it and later stages "
                    "(cached model replies are reused), or use a new --out"
                )
        else:
            write_json_atomic(self.fingerprint_path, fingerprint)
        for path in (self.records_path, self.dropped_path, self.ledger_path):
            repair_tail(path)

    def is_complete(self) -> bool:
        """True once the completion marker exists."""
        return self.success_path.exists()

    def mark_complete(self, counts: dict[str, Any]) -> None:
        """Write the completion marker (last step of a stage)."""
        write_json_atomic(self.success_path, counts)

    # -- writing -----------------------------------------------------------------------------------
    def commit(self, src: str, outputs: list[Record], dropped: list[Record]) -> None:
        """Persist the result of one input record: outputs, drops, then the ledger line."""
        append_jsonl(self.records_path, outputs, fsync=self.durable)
        append_jsonl(self.dropped_path, dropped, fsync=self.durable)
        append_jsonl(
            self.ledger_path,
            [{"src": src, "out": [r["id"] for r in outputs], "dropped": [d["id"] for d in dropped]}],
            fsync=self.durable,
        )

    # -- reading -----------------------------------------------------------------------------------
    def ledger(self) -> dict[str, Record]:
        """Finished inputs: src id -> its ledger line (first line wins)."""
        done: dict[str, Record] = {}
        for row in read_jsonl(self.ledger_path):
            done.setdefault(row["src"], row)
        return done

    def _committed(self, path: Path, field: str) -> list[Record]:
        wanted = {i for row in self.ledger().values() for i in row[field]}
        seen: set[str] = set()
        out = []
        for row in read_jsonl(path):
            if row["id"] in wanted and row["id"] not in seen:
                seen.add(row["id"])
                out.append(row)
        return sorted(out, key=lambda r: r["id"])

    def records(self) -> list[Record]:
        """Committed, deduplicated output records in id order."""
        return self._committed(self.records_path, "out")

    def dropped(self) -> list[Record]:
        """Committed, deduplicated dropped records in id order."""
        return self._committed(self.dropped_path, "dropped")


class StaleStageError(UsageError):
    """Existing stage output was made with a different configuration."""


class RequestCache:
    """Model replies keyed by (record id, hash of the request); a changed prompt or model misses.

    One JSONL file for the whole build, appended and fsynced per reply.
    """

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(path)
        self._entries: dict[str, str] = {}
        for row in read_jsonl(path):
            self._entries.setdefault(row["key"], row["reply"])

    @staticmethod
    def key(record_id: str, request_hash: str) -> str:
        """The cache key of one request."""
        return f"{record_id}:{request_hash}"

    def get(self, key: str) -> str | None:
        """The cached reply, or None."""
        return self._entries.get(key)

    def put(self, key: str, reply: str) -> None:
        """Store a reply durably."""
        if key in self._entries:
            return
        self._entries[key] = reply
        append_jsonl(self.path, [{"key": key, "reply": reply}], fsync=self.durable)

    def __len__(self) -> int:
        return len(self._entries)
