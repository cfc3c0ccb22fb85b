"""`mis campaign run PLAN --out DIR` and `mis campaign status DIR`: many models x benchmarks, one table.

The library (:mod:`mis.eval.campaign`) runs the cells and reports each change of state through a callback;
this module draws the live table from it (on stderr, so stdout keeps the final table) and prints the same
table from the folder alone for `status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from mis._util.config import command
from mis.cli._app import app, console, err_console

campaign_app = typer.Typer(
    help="Many models x many benchmarks from one plan file; one resumable folder per cell.",
    no_args_is_help=True,
)
app.add_typer(campaign_app, name="campaign")

STYLE = {"done": "green", "failed": "bold red", "running": "yellow", "running elsewhere": "cyan",
         "stopped": "magenta", "pending": "dim", "other shard": "dim"}


@dataclass(kw_only=True)
class CampaignConfig:
    """Settings of one `mis campaign run` worker (docs/scale-out.md)."""

    plan: Path
    """Plan file (YAML): models, benchmarks, one judge, shared options."""
    out: Path
    """Campaign folder: OUT/<model>/<benchmark>/ per cell (the --out of one `mis eval` / `mis bench run`)."""
    shard: str | None = None
    """K/N: run only every N-th cell from the K-th (a Slurm array task, one of N machines); the cell locks
    keep workers apart with or without it."""


def status_table(statuses: Sequence[Any], title: str) -> Table:
    """One row per cell: state, samples done, headline, where it runs or why it failed."""
    table = Table(title=escape(title), title_justify="left")
    for column in ("cell", "state", "samples", "headline", "worker / reason"):
        table.add_column(column, overflow="fold", justify="right" if column == "samples" else "left")
    for s in statuses:
        total = f"/{s.total}" if s.total else ""
        samples = f"{s.done}{total}" if s.done or s.total else "-"
        note = s.reason or (f"{s.host}:{s.pid}" if s.state == "running" and s.host else "")
        style = STYLE.get(s.state, "")
        table.add_row(escape(s.cell), f"[{style}]{s.state}[/]", samples, escape(s.headline or "-"),
                      escape(note))
    counts = {state: sum(1 for s in statuses if s.state == state) for state in STYLE}
    table.caption = " · ".join(f"{state} {n}" for state, n in counts.items() if n)
    table.caption_justify = "left"
    return table


class LiveTable:
    """:class:`mis.eval.campaign.CampaignProgress` drawn as a rich Live table on stderr."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: dict[str, Any] = {}
        self._live = Live(status_table([], title), console=err_console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveTable:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    def update(self, status: Any) -> None:
        """A cell changed: redraw."""
        self.rows[status.cell] = status
        self._live.update(status_table(list(self.rows.values()), self.title))


def _run(config: CampaignConfig) -> None:
    from mis.errors import MisError
    from mis.eval.campaign import run_campaign, status

    title = f"campaign {config.out}" + (f" · shard {config.shard}" if config.shard else "")
    live = LiveTable(title)
    try:
        with live:
            run_campaign(config.plan, config.out, shard=config.shard, progress=live)
    except MisError:
        if live.rows:
            console.print(status_table(list(live.rows.values()), title))
        raise
    console.print(status_table(status(config.out), title))
    console.print(f"report: mis report {config.out} --out {config.out}/report", highlight=False)


campaign_app.command("run", help="Run a plan's cells (resumable; rerun to finish what is missing).")(
    command(CampaignConfig, _run, positional=("plan",))
)


@campaign_app.command("status")
def status_command(
    out: Annotated[Path, typer.Argument(help="A `mis campaign run` --out folder.", show_default=False)],
) -> None:
    """Print every cell's state from the campaign folder alone (done / running / failed with the reason)."""
    from mis.eval.campaign import status

    console.print(status_table(status(out), f"campaign {out}"))
