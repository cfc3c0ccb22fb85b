"""`mis report`: leaderboard, comparison charts and a sample browser over evaluation run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from mis.cli._app import app, console


@app.command("report")
def report(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="Run folders (each with results.json), or folders holding them (a suite's --out).",
        show_default=False, metavar="DIR")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for leaderboard.md/.csv, results.csv, charts/, report.html, "
        "report_files/ and thumbs/ (a thumbnail cache kept between builds).")],
    title: Annotated[str, typer.Option(
        help="Title of the markdown and HTML report.")] = "MIS evaluation report",
    sort: Annotated[str, typer.Option(
        help="Leaderboard column to sort by, best first: hard_asr, easy_asr, real_rsr, benign_over_refusal, "
        "mmstar_accuracy, ... (the keys of leaderboard.csv).")] = "hard_asr",
    published: Annotated[list[str] | None, typer.Option(
        "--published", help="The MIS authors' published numbers: auto (beside a run of the same model), "
        "none, all, a published model's name, or NAME=MODEL (beside the run of MODEL). Repeatable.",
        show_default="auto")] = None,
    sub_categories: Annotated[bool, typer.Option(
        "--sub-categories", help="Also chart ASR per sub-category (one chart per split).")] = False,
    thumb_px: Annotated[int, typer.Option(
        min=32, max=2048, help="Longest side of the image thumbnails in the sample browser.")] = 256,
) -> None:
    """Compare runs: one row per model (md, CSV, terminal), charts, and report.html with every sample."""
    from mis.report import build_report
    from mis.report._tables import cells, fit_columns

    # a ReportError (a MisError) becomes one line: exit 3 for bad input, 2 for a bad option
    paths = build_report(run_dirs, out, title=title, thumb_px=thumb_px, sort=sort,
                         published=published or "auto", sub_categories=sub_categories)
    lb = paths.leaderboard
    body = cells(lb)
    for row, r in zip(body, lb.rows, strict=True):
        if r.published:
            row[0] += " †"
    kept, dropped, label_width = fit_columns(lb.columns, body, console.width, first=lb.sort_key)
    caption = f"{lb.sort_note}; † published"
    if dropped:
        caption += f"; not shown at this width: {', '.join(c.header for c in dropped)} (see leaderboard.csv)"
    table = Table(title="Leaderboard", title_justify="left", caption=caption, caption_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i in kept:
        col = lb.columns[i]
        is_label = col.key == "label"
        text = col.key in ("label", "judge", "source")
        table.add_column(col.short_header, justify="left" if text else "right",
                         overflow="fold", no_wrap=not is_label, min_width=label_width if is_label else None)
    for row in body:
        table.add_row(*(row[i] for i in kept))
    console.print(table)
    console.print(f"leaderboard: {paths.leaderboard_md}  {paths.leaderboard_csv}", highlight=False)
    console.print(f"all results: {paths.results_csv}", highlight=False)
    for name, png in paths.charts.items():
        console.print(f"chart {name}: {png}", highlight=False)
    stats = paths.thumbs
    if stats is not None:
        console.print(f"thumbnails: {stats.encoded} made, {stats.reused} reused from the cache, "
                      f"{stats.missing} image(s) not found or unreadable", highlight=False)
    console.print(f"html: {paths.html}  ({paths.seconds:.1f} s)", highlight=False)
