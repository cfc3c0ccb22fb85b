"""A campaign cell's folder: its claim (a file lock), its state file, and its status read from disk alone.

A cell is one (model, benchmark) pair whose folder is the ``--out`` of one `mis eval` / `mis bench run` call.
Beside that call's own files it holds ``cell.lock`` (``fcntl.flock``-ed while a worker runs the cell; the
kernel drops the lock when that process dies, SIGKILL included, so a dead worker never blocks a rerun) and
``cell.json`` (written by the lock holder only: state, reason, host, pid, samples done, the config's
fingerprint). Whatever a status reader sees comes from these two files and the runner's checkpoint.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "cell.lock"
STATE_FILE = "cell.json"
#: The campaign's states of a cell, as the status table shows them.
PENDING, RUNNING, DONE, FAILED, STOPPED, ELSEWHERE, OTHER_SHARD = (
    "pending", "running", "done", "failed", "stopped", "running elsewhere", "other shard")


@dataclass
class CellStatus:
    """What the table shows of one cell (and what ``cell.json`` records)."""

    cell: str
    """``<model>/<benchmark>``: the cell's folder under the campaign's DIR."""
    model: str
    benchmark: str
    state: str = PENDING
    reason: str = ""
    done: int = 0
    """Samples finished (checkpointed)."""
    total: int | None = None
    headline: str = ""
    host: str = ""
    pid: int = 0
    fingerprint: str = ""
    results: str = ""
    """The results.json of a finished cell, relative to the cell folder."""
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The record written to ``cell.json``."""
        return asdict(self)


class CellLock:
    """An exclusive, non-blocking claim of a cell folder by this process (released on exit or death)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self, attempts: int = 10, wait_s: float = 0.05) -> bool:
        """Take the lock; False when another process holds it.

        A few short retries tolerate a status reader probing the lock at the same instant.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        for attempt in range(attempts):
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if attempt + 1 == attempts:
                    fh.close()
                    return False
                time.sleep(wait_s)
                continue
            break
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(worker()) + "\n")
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        """Drop the lock (closing the file releases it)."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def worker() -> dict[str, Any]:
    """Who runs a cell: host and pid (shown in the table, recorded in the lock and state files)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def held(folder: Path) -> bool:
    """Whether some process holds the cell's lock now (probed without blocking, released at once)."""
    path = Path(folder) / LOCK_FILE
    if not path.is_file():
        return False
    with path.open("r", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def read_state(folder: Path) -> dict[str, Any] | None:
    """The cell's ``cell.json`` (None when the cell never started or the file is unreadable)."""
    path = Path(folder) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(folder: Path, status: CellStatus) -> None:
    """Write ``cell.json`` atomically (only the lock holder writes it)."""
    from mis._util.io import write_json_atomic

    write_json_atomic(Path(folder) / STATE_FILE, status.to_json())


def samples_done(folder: Path) -> int:
    """Distinct samples in the cell's checkpoints (a benchmark cell keeps its run folder one level down)."""
    uids: set[tuple[str, str]] = set()
    for path in Path(folder).rglob("checkpoint.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                uid = json.loads(line).get("uid")
            except (ValueError, AttributeError):
                continue  # a torn last line: that sample simply runs again
            if uid is not None:
                uids.add((str(path.parent), str(uid)))
    return len(uids)


def status_of(folder: Path, cell: str, model: str, benchmark: str, fingerprint: str) -> CellStatus:
    """A cell's status from its folder alone: state file, lock and checkpoint."""
    state = read_state(folder)
    status = CellStatus(cell=cell, model=model, benchmark=benchmark, fingerprint=fingerprint)
    if state is not None:
        known = {k: v for k, v in state.items() if k in CellStatus.__dataclass_fields__}
        status = CellStatus(**(known | {"cell": cell, "model": model, "benchmark": benchmark}))
        if status.state == DONE and (state.get("fingerprint") != fingerprint
                                     or not (Path(folder) / status.results).is_file()):
            status.state, status.reason = PENDING, "the plan changed for this cell since it finished"
    if held(folder):
        status.state = RUNNING
    elif status.state == RUNNING:
        status.state, status.reason = STOPPED, "its worker is gone; rerun to resume it"
    if status.state != DONE and Path(folder).is_dir():
        status.done = samples_done(folder)
    return status
