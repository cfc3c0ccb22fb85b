"""`mis report`: leaderboard, charts and an HTML page over `mis eval` output folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mis.cli._app import app, console, fail

_TEXT_COLUMNS = ("model", "judge", "task", "split")
_TERMINAL_COLUMNS = (*_TEXT_COLUMNS, "n", "asr", "hr", "rsr", "rr", "unknown", "n_unknown", "score",
                     "accuracy")


@app.command("report")
def report(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="`mis eval` / `mis judge` output folders (each with results.json), or folders holding them.",
        show_default=False, metavar="DIR")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for leaderboard.md/.csv, charts/ and report.html.")],
    title: Annotated[str, typer.Option(
        help="Title of the markdown and HTML report.")] = "MIS evaluation report",
    thumb_px: Annotated[int, typer.Option(
        min=32, max=2048, help="Longest side of the image thumbnails in the HTML.")] = 256,
) -> None:
    """Compare runs: leaderboard (markdown + CSV), per-category safe-rate charts, one HTML page of samples."""
    from mis.report import ReportError, build_report
    from mis.report._tables import fmt

    try:
        paths = build_report(run_dirs, out, title=title, thumb_px=thumb_px)
    except ReportError as err:
        raise fail(str(err)) from None
    # the terminal gets the MIS columns (+ a benchmark's headline score); every metric is in the CSV
    shown = [c for c in paths.columns if c in _TERMINAL_COLUMNS]
    hidden = len(paths.columns) - len(shown)
    table = Table(title="Leaderboard", title_justify="left",
                  caption=f"{hidden} more metric column(s) in leaderboard.csv" if hidden else None)
    for col in shown:
        folds = col in ("model", "judge")  # long model ids fold; numbers and task names stay whole
        table.add_column(col, justify="left" if col in _TEXT_COLUMNS else "right",
                         overflow="fold" if folds else "ellipsis", no_wrap=not folds)
    for row in paths.rows:
        table.add_row(*(fmt(row.get(c)) for c in shown))
    console.print(table)
    if paths.score_rows:
        scores = Table(title="Safety and general ability (scoring: docs/report.md)",
                       title_justify="left")
        for col in paths.score_columns:
            scores.add_column(col, justify="left" if col == "model" else "right",
                              overflow="fold" if col == "model" else "ellipsis", no_wrap=col != "model")
        for row in paths.score_rows:
            scores.add_row(*(fmt(row.get(c)) for c in paths.score_columns))
        console.print(scores)
    console.print(f"leaderboard: {paths.leaderboard_md}  {paths.leaderboard_csv}", highlight=False)
    for model, png in paths.charts.items():
        console.print(f"chart ({model}): {png}", highlight=False)
    if paths.scores_csv is not None:
        console.print(f"safety vs general: {paths.scores_csv}", highlight=False)
    if paths.scatter is not None:
        console.print(f"scatter: {paths.scatter}", highlight=False)
    console.print(f"html: {paths.html}", highlight=False)
