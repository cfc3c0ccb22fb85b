"""`mis build`: run the MIS construction pipeline, and the human review round.

`mis build run`'s options are generated from `mis.build.BuildConfig` (``--t2i-<name>`` for its text-to-image
settings, ``--step STEP.KEY=VALUE`` for per-step models); `mis.build.resolve_config` merges them over
``--config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mis._util.config import command, extra
from mis.build._config import STAGES, BuildConfig
from mis.cli._app import app, console, fail

build_app = typer.Typer(
    help="Build MIS-style data: extract -> refine -> render -> split -> review -> label.",
    no_args_is_help=True,
)
app.add_typer(build_app, name="build")


def _resolve(config: str | None, given: dict[str, Any]) -> BuildConfig:
    from mis.build import resolve_config

    return resolve_config(config, given)


def _run_build(cfg: BuildConfig, *, restart_from: str | None, until: str | None) -> None:
    """Run (or resume) every stage with a progress bar per stage, then the stage table."""
    from mis.build import BuildEvent, run_build

    with Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_event(event: BuildEvent) -> None:
            if event.kind in ("start", "skip"):
                tasks[event.stage] = progress.add_task(
                    event.stage, total=event.total or 1, completed=event.done
                )
            elif event.kind == "advance" and event.stage in tasks:
                progress.advance(tasks[event.stage])

        result = run_build(cfg, on_event=on_event, restart_from=restart_from, until=until)

    table = Table(title=f"mis build: {result.status}")
    for col in ("stage", "in", "out", "dropped", "reasons", "errors"):
        table.add_column(col, justify="left" if col in ("stage", "reasons") else "right")
    for stage, c in result.stages.items():
        reasons = ", ".join(f"{k} {v}" for k, v in c["reasons"].items())
        table.add_row(stage, str(c["in"]), str(c["out"]), str(c["dropped"]), reasons, str(c["errors"]))
    console.print(table)
    if result.final:
        console.print(
            "dataset: "
            + ", ".join(f"{k} {v}" for k, v in result.final.items())
            + f"  ->  {result.out} (manifest: {result.manifest_path})"
        )
    if result.message:
        console.print(result.message)
    if result.status == "incomplete":
        raise typer.Exit(1)


_STAGE_HELP = ", ".join(STAGES)
build_app.command(
    "run", help="Run (or resume: rerun the same command) every stage and write the dataset in the MIS layout "
    "with a manifest."
)(
    command(
        BuildConfig,
        _run_build,
        resolver=_resolve,
        recipe_option="--config",
        recipe_help="YAML build config, or a packaged one (paper, offline); options given here override it.",
        extras=(
            extra("restart_from", str | None, typer.Option(
                None, "--restart-from", rich_help_panel="Stages",
                help=f"Redo this stage and the later ones (cache kept): {_STAGE_HELP}.")),
            extra("until", str | None, typer.Option(
                None, "--until", rich_help_panel="Stages", help=f"Stop after this stage: {_STAGE_HELP}.")),
        ),
    )
)


@build_app.command("review-export")
def review_export_cmd(
    out: Annotated[Path, typer.Option("--out", help="The build folder.")],
    dest: Annotated[
        Path | None, typer.Option(help="Where to write review.csv/review.html (default OUT/human_review).")
    ] = None,
) -> None:
    """Write a CSV to fill in and a static HTML sheet with the images of every split record."""
    from mis.build import ReviewError, review_export

    try:
        csv_path, html_path = review_export(out, dest)
    except ReviewError as exc:
        raise fail(str(exc)) from exc
    console.print(f"review sheet: {html_path}\nfill the 'decision' column of: {csv_path}")


@build_app.command("review-import")
def review_import_cmd(
    csv_file: Annotated[Path, typer.Argument(help="The filled review CSV.")],
    out: Annotated[Path, typer.Option("--out", help="The build folder.")],
) -> None:
    """Record human decisions (keep, drop, train, easy, hard); the next `mis build run` applies them."""
    from mis.build import ReviewError, review_import

    try:
        counts = review_import(out, csv_file)
    except (ReviewError, OSError) as exc:
        raise fail(str(exc)) from exc
    console.print("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    console.print(f"now rerun `mis build run --out {out} ...` to apply them")
