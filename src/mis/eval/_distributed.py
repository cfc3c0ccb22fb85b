"""Data-parallel `mis eval`: one process per GPU (``torchrun`` / ``accelerate launch``), one run folder.

Launched by ``torchrun --nproc-per-node N -m mis eval ...`` (or ``accelerate launch``, which sets the same
``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` environment), every rank reads the same data and the same resume
state, takes its share of the samples still to do, generates with its own device and judges its own
samples, appending to its OWN files (``checkpoint.rank-K.jsonl``, ``generations.rank-K.jsonl``: never two
writers on one file). Every load reads the union of the plain file and all rank files (first record per
uid wins), so a run killed at world size 2 resumes at 1 or 3 with each sample counted once. After a barrier
rank 0 alone merges and writes samples.jsonl / results.json; the others write nothing final.

Only control messages cross ranks (barriers, the todo list, log paths, the outcome), so the process group
is always gloo, even next to CUDA: it needs no device binding, does not share the model's streams, and
its timeout (``MIS_DIST_TIMEOUT_S``, default 24 h) is long because a barrier waits for the slowest rank's
whole share. Without ``WORLD_SIZE`` (or with 1) nothing here does anything: one process, today's files.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
_RANK_FILE = re.compile(r"^(?P<stem>.+)\.rank-(?P<rank>\d+)(?P<suffix>\.[^.]+)$")
DEFAULT_TIMEOUT_S = 24 * 3600


def env_world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the launcher's environment; (0, 1, 0) without one."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return 0, 1, 0
    rank = int(os.environ.get("RANK", "0") or 0)
    return rank, size, int(os.environ.get("LOCAL_RANK", str(rank)) or rank)


def is_main() -> bool:
    """Whether this process draws progress and prints (rank 0, or the only process)."""
    return env_world()[0] == 0


def rank_file(path: Path, rank: int) -> Path:
    """The file rank ``rank`` appends to in place of ``path`` (``x.jsonl`` -> ``x.rank-1.jsonl``)."""
    return path.with_name(f"{path.stem}.rank-{rank}{path.suffix}")


def shard_files(path: Path) -> list[Path]:
    """Every rank file of ``path`` present on disk, by rank (a later run at any world size reads them all)."""
    if not path.parent.is_dir():
        return []
    found = []
    for candidate in path.parent.glob(f"{path.stem}.rank-*{path.suffix}"):
        m = _RANK_FILE.match(candidate.name)
        if m and m["stem"] == path.stem and m["suffix"] == path.suffix:
            found.append((int(m["rank"]), candidate))
    return [p for _, p in sorted(found)]


def split(items: Sequence[T], rank: int, size: int) -> list[T]:
    """Rank ``rank``'s share of ``items``: every ``size``-th one from position ``rank``.

    Round robin rather than contiguous blocks: a benchmark's samples come sorted by split and category,
    so each rank gets a like mix (similar lengths, similar judge load) and ranks finish together.
    """
    return list(items[rank::size])


@dataclass
class World:
    """Where a process stands among the ranks of one launch (rank 0 of 1 without a launcher)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    _group: Any = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1

    @property
    def file_rank(self) -> int | None:
        """The rank whose own files this process appends to (None: the plain files, one process)."""
        return self.rank if self.parallel else None

    def barrier(self) -> None:
        if self.parallel:
            import torch.distributed as dist

            dist.barrier(group=self._group)

    def from_main(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank (so every rank acts on one view of the resume state)."""
        if not self.parallel:
            return obj
        import torch.distributed as dist

        box = [obj if self.main else None]
        dist.broadcast_object_list(box, src=0, group=self._group)
        return box[0]  # type: ignore[return-value]

    def gather(self, obj: T) -> list[T]:
        """Every rank's ``obj`` (by rank) on every rank."""
        if not self.parallel:
            return [obj]
        import torch.distributed as dist

        box: list[Any] = [None] * self.size
        dist.all_gather_object(box, obj, group=self._group)
        return box

    def main_first(self, work: Callable[[], T]) -> T:
        """``work`` on rank 0, then on the others.

        Rank 0 claims the run folder and warms the image gate's cache, so the others find run.json written
        and decode nothing again.
        """
        if not self.parallel:
            return work()
        if self.main:
            result = work()
            self.barrier()
        else:
            self.barrier()
            result = work()
        self.barrier()  # nothing runs before every rank has read the resume state
        return result

    def outcome(self, work: Callable[[], T]) -> T:
        """Run ``work`` (the merge) on rank 0 only; its result, or its MisError, on every rank."""
        from mis.errors import MisError

        if not self.parallel:
            return work()
        result: Any = None
        error: MisError | None = None
        if self.main:
            try:
                result = work()
            except MisError as exc:
                error = exc
        result, error = self.from_main((result, error))
        if error is not None:
            if not self.main:
                error.shown_elsewhere = True  # type: ignore[attr-defined]  # rank 0 prints it
            raise error
        return result  # type: ignore[no-any-return]


_groups: dict[str, Any] = {}


def world() -> World:
    """The calling process's world; with a launcher, joins (or reuses) the process group."""
    rank, size, local_rank = env_world()
    if size <= 1:
        return World()
    import torch.distributed as dist

    timeout = timedelta(seconds=float(os.environ.get("MIS_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S)))
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", timeout=timeout)
    elif dist.get_backend() != "gloo" and "gloo" not in _groups:
        # accelerate (or the user) made an nccl group: control messages get their own gloo one
        _groups["gloo"] = dist.new_group(backend="gloo", timeout=timeout)
    group = _groups.get("gloo")
    logger.debug("data-parallel eval: rank %d of %d (local rank %d)", rank, size, local_rank)
    return World(rank=rank, size=size, local_rank=local_rank, _group=group)
