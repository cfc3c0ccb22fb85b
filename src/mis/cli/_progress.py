"""A rich progress bar per benchmark for the runner: samples done of total, elapsed, ETA, running counts."""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mis.cli._app import err_console
from mis.eval._distributed import is_main


class RunProgress:
    """:class:`mis.eval.runner.Progress` on a rich Progress (on stderr, so stdout keeps the tables).

    In a data-parallel launch only rank 0 draws (the other ranks' bars would tear each other's lines).
    """

    def __init__(self) -> None:
        self._draw = is_main()
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
            console=err_console, transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._counts: dict[str, Counter[str]] = {}

    def __enter__(self) -> RunProgress:
        if self._draw:
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._draw:
            self._bar.stop()

    def start(self, task: str, total: int, done: int) -> None:
        """A unit begins (``done`` samples finished in earlier runs)."""
        self._counts[task] = Counter()
        note = f"{done} kept from before" if done else ""
        self._tasks[task] = self._bar.add_task(task, total=total, completed=done, counts=note)

    def advance(self, task: str, row: dict[str, Any]) -> None:
        """One sample finished: advance and show the running label counts (unknown always shown)."""
        counts = self._counts[task]
        counts[str(row.get("label"))] += 1
        top = [f"{k} {v}" for k, v in counts.most_common(3) if k != "unknown"]
        shown = [f"unknown {counts['unknown']}", *top]
        self._bar.update(self._tasks[task], advance=1, counts=" · ".join(shown))
