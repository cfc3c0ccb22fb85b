"""`mis report`: leaderboard (md, CSV), comparison charts and report.html over evaluation run folders.

Reads only each run folder's results.json and samples.jsonl (schema 2, docs/results.md, or 0.1.0),
so a report can be rebuilt at any time without a model, a judge or a network. What goes where:
:mod:`mis.report._load` (reading), :mod:`._tables` (the one-row-per-model table), :mod:`._published`
(the authors' numbers), :mod:`._plots` (charts), :mod:`._thumbs` + :mod:`._browser` (the lazily loaded
sample data), :mod:`._html` (the page).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis._util.io import write_json_atomic
from mis.report._agreement import agreement_markdown, judge_agreement
from mis.report._breakdowns import breakdown_markdown, write_breakdowns
from mis.report._browser import FILES_DIR, BrowserData, write_browser
from mis.report._html import definitions, render_html
from mis.report._load import ReportError, ReportOptionError, Run, RunResult, find_run_dirs, load_run
from mis.report._plots import Chart, category_chart, headline_chart, model_colours, scatter_chart
from mis.report._published import Published, match, parse_requests, published_benchmarks
from mis.report._tables import (
    DEFAULT_SORT,
    HARMFUL_ORDER,
    Leaderboard,
    build_leaderboard,
    leaderboard_csv,
    leaderboard_markdown,
    long_records,
    md_escape,
    short_labels,
    write_csv,
)
from mis.report._thumbs import ThumbCache, ThumbStats

__all__ = ["ReportError", "ReportPaths", "build_report", "load_runs"]

log = logging.getLogger(__name__)

PUBLISHED_CITATION = ("paper: Ding et al., arXiv 2501.18533; or the authors' project page, GitHub "
                      "DripNowhy/MIS; GPT-4o judge")


@dataclass
class ReportPaths:
    """What `build_report` wrote, with the leaderboard (for printing) and what the build cost."""

    out: Path
    leaderboard_md: Path
    leaderboard_csv: Path
    results_csv: Path
    html: Path
    leaderboard: Leaderboard
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per result, as in results.csv
    charts: dict[str, Path] = field(default_factory=dict)  # chart name -> PNG
    chart_data: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    scatter: Path | None = None
    thumbs: ThumbStats | None = None
    browser: BrowserData | None = None
    agreement: list[dict[str, Any]] = field(default_factory=list)  # judges that judged the same responses
    seconds: float = 0.0


def load_runs(run_dirs: Iterable[str | Path]) -> list[Run]:
    """Resolve folders to run folders (searching below ones without results.json) and read them."""
    return [load_run(d) for d in find_run_dirs(run_dirs)]


def build_report(run_dirs: Sequence[str | Path], out: str | Path, *, title: str = "MIS evaluation report",
                 thumb_px: int = 256, sort: str | None = DEFAULT_SORT,
                 published: Sequence[str] | str | None = "auto", sub_categories: bool = False) -> ReportPaths:
    """Write leaderboard.md/.csv, results.csv, charts/*.png, report.html, report_files/ and thumbs/.

    ``run_dirs``: run folders, or folders holding them. ``sort``: the leaderboard column to sort by, best
    first (``hard_asr``). ``published``: ``auto`` (beside runs of the same model), ``none``, ``all``, a
    published model's name, or ``NAME=MODEL``. ``thumb_px``: longest side of the thumbnails.
    Raises ReportError on unreadable input or a bad option.
    """
    start = time.perf_counter()
    if not run_dirs:
        raise ReportError("no run folders given")
    runs = load_runs(run_dirs)
    out = Path(out)
    results = [r for run in runs for r in run.results]
    extra, beside, shown_published = _published(results, published)
    lb = build_leaderboard([*results, *extra], sort=sort, beside=beside)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    paths = ReportPaths(out=out, leaderboard_md=out / "leaderboard.md",
                        leaderboard_csv=out / "leaderboard.csv", results_csv=out / "results.csv",
                        html=out / "report.html", leaderboard=lb)
    leaderboard_csv(lb, paths.leaderboard_csv)
    long_cols, long_rows = long_records([*results, *extra])
    write_csv(paths.results_csv, long_cols, long_rows)
    paths.rows = long_rows

    charts = _charts(lb, results, out, sub_categories)
    paths.charts = {c.name: c.path for c in charts}
    paths.chart_data = {c.name: c.data for c in charts}
    paths.scatter = paths.charts.get("safety_vs_helpfulness")
    notes = _published_notes(shown_published)

    labels = short_labels(r.model for r in results)
    thumbs = ThumbCache(out, max_px=thumb_px)
    paths.browser = write_browser(out, runs, labels, thumbs, title=title)
    paths.thumbs = thumbs.stats
    models = len({r.model for r in results})
    summary = (f"{len(runs)} run folder(s), {models} model(s), {paths.browser.samples} samples in the "
               "browser. "
               "Built by `mis report` from results.json and samples.jsonl.")
    agreement = judge_agreement(runs)
    if agreement:
        write_json_atomic(out / "judge_agreement.json", agreement)
    write_breakdowns(results, out / "breakdowns.csv")
    markdown = (_markdown(title, summary, lb, charts, notes, out) + "\n".join(breakdown_markdown(results))
                + "\n".join(agreement_markdown(agreement)))
    paths.leaderboard_md.write_text(markdown, encoding="utf-8")
    paths.agreement = agreement
    render_html(out=out, title=title, summary=summary, lb=lb, long_columns=long_cols, long_rows=long_rows,
                charts=charts, runs=[str(run.path) for run in runs], n_samples=paths.browser.samples,
                n_models=len(paths.browser.models), published_citation=PUBLISHED_CITATION,
                published_notes=notes, agreement=agreement)
    paths.seconds = round(time.perf_counter() - start, 2)
    log.info("report written to %s (%d runs, %d results, %.1f s)", out, len(runs), len(results),
             paths.seconds)
    return paths


def _published(results: Sequence[RunResult], requests: Sequence[str] | str | None,
               ) -> tuple[list[RunResult], dict[str, str], list[Published]]:
    """Published results to add, the run model each sits beside, and the published models shown."""
    auto, explicit = parse_requests(requests if isinstance(requests, str | None) else list(requests))
    run_models = list(dict.fromkeys(r.model for r in results if r.has_mis_rates))
    pairs: list[tuple[Published, str | None]] = []
    if auto:
        for run_model in run_models:
            found = match(run_model)
            if found is not None:
                pairs.append((found, run_model))
    for p, wanted in explicit:
        if wanted is not None and wanted not in {r.model for r in results}:
            raise ReportOptionError(f"--published {p.name}={wanted}: no run has model {wanted!r}; models: "
                              f"{', '.join(dict.fromkeys(r.model for r in results))}")
        pairs.append((p, wanted))
    extra: list[RunResult] = []
    beside: dict[str, str] = {}
    shown: list[Published] = []
    for p, model in pairs:
        label = f"{p.name} (published)"
        if p not in shown:
            shown.append(p)
            extra.extend(p.results(label))
        if model is not None:
            beside.setdefault(label, model)
    # the post-paper benchmarks' published numbers: beside a run of the same model (auto), or all of them
    # (``all``) for the benchmarks the report has runs of
    wanted_all = "all" in ([requests] if isinstance(requests, str) else list(requests or ["auto"]))
    benchmarks = {r.benchmark for r in results}
    for b in (b for b in published_benchmarks() if b.benchmark in benchmarks):
        twin = next((r.model for r in results if r.benchmark == b.benchmark and b.matches(r.model)), None)
        if (auto and twin is not None) or wanted_all:
            label = f"{b.name} (published)"
            extra.extend(b.results(label))
            if twin is not None:
                beside.setdefault(label, twin)
    return extra, beside, shown


def _published_notes(shown: Sequence[Published]) -> list[str]:
    notes = []
    for p in shown:
        problems = p.sum_problems()
        if problems:
            sums = ", ".join(f"{split} sums to {total:.2f}" for split, total in problems.items())
            notes.append(f"† {p.name}: {p.citation}; as published, its rates on {sums} (not 100).")
    return notes


def _charts(lb: Leaderboard, results: Sequence[RunResult], out: Path, sub: bool) -> list[Chart]:
    charts_dir = out / "charts"
    run_rows = [r for r in lb.rows if not r.published]
    colours = model_colours([r.label for r in run_rows])
    for r in lb.rows:  # a published row takes the colour of the run it sits beside
        if r.published:
            twin = next((o for o in run_rows if o.model == r.beside), None)
            colours[r.label] = colours[twin.label] if twin else "#555555"
    charts: list[Chart | None] = [headline_chart(lb, charts_dir / "headline.png")]
    splits = [r.split for r in results if r.benchmark == "mis" and r.kind == "attack" and r.has_mis_rates
              and r.by_category and r.split not in ("", "all")]
    ordered = [s for s in HARMFUL_ORDER if s in splits] + sorted(set(splits) - set(HARMFUL_ORDER))
    for split in ordered:
        charts.append(category_chart(results, split, run_rows, colours,
                                     charts_dir / f"categories_{split}.png"))
        if sub:
            charts.append(category_chart(results, split, run_rows, colours,
                                         charts_dir / f"sub_categories_{split}.png", sub=True))
    charts.append(scatter_chart(lb, colours, charts_dir / "safety_vs_helpfulness.png"))
    return [c for c in charts if c is not None]


def _markdown(title: str, summary: str, lb: Leaderboard, charts: Sequence[Chart], notes: Sequence[str],
              out: Path) -> str:
    md = [f"# {md_escape(title)}\n", f"{summary}\n", "## Leaderboard\n",
          f"One row per model; {lb.sort_note}. Rates are % of all samples of a split; ↓ lower is better, "
          "↑ higher is better; - = not run. † = the MIS authors' published numbers "
          f"({PUBLISHED_CITATION}), not a run.\n", leaderboard_markdown(lb)]
    md += [f"{md_escape(n)}\n" for n in notes]
    md.append("Models: " + "; ".join(f"{md_escape(r.label)} = {md_escape(r.model)}"
                                     for r in lb.rows if not r.published) + "\n")
    md.append("### What the numbers mean\n")
    md += [f"- **{md_escape(term)}**: {md_escape(text)}" for term, text in definitions()]
    if charts:
        md.append("\n## Charts\n")
        md += [f"![{md_escape(c.caption)}]({c.path.relative_to(out).as_posix()})\n" for c in charts]
    md.append("\nEvery result (model x benchmark x split, all metrics): [results.csv](results.csv). "
              "Every sample, "
              "with both images and each model's response and verdict: [report.html](report.html) (keep "
              f"`{FILES_DIR}/` and `thumbs/` beside it).\n")
    return "\n".join(md)


def _clear_previous(out: Path) -> None:
    """Remove what an earlier report wrote here (charts, data files); thumbs/ is a cache and stays."""
    shutil.rmtree(out / "charts", ignore_errors=True)
    for stale in ("scores.csv", "results.csv", "leaderboard.csv", "leaderboard.md", "report.html",
                  "judge_agreement.json", "breakdowns.csv"):
        (out / stale).unlink(missing_ok=True)
