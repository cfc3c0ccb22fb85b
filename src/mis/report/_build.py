"""`mis report`: a leaderboard, charts and one browsable HTML page over evaluation runs.

Reads only each run folder's results.json and samples.jsonl (written by `mis eval` / `mis judge`,
or by the other benchmarks' tasks), so reports can be rebuilt any time without a model or judge.
MIS results get the full treatment (rates, per-category safe-rate charts, per-sample verdicts);
other benchmarks show their metrics, and a model with both safety and general results is placed on
a harmlessness-vs-helpfulness scatter plot (scoring rules: :mod:`mis.report._tables`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.report._html import render_html
from mis.report._load import ReportError, Run, RunResult, find_run_dirs, load_run
from mis.report._plots import safe_rate_chart, scatter_chart
from mis.report._tables import (
    fmt,
    has_benchmarks,
    leaderboard,
    markdown_table,
    model_scores,
    scores_table,
    write_csv,
)

__all__ = ["ReportError", "ReportPaths", "RunResult", "build_report", "load_runs"]

log = logging.getLogger(__name__)

_SCORES_NOTE = (
    "One higher-is-better score per benchmark: safety benchmarks show their safe rate (100 - ASR when "
    "they report ASR; MSSBench its total accuracy), general ones their accuracy; over-refusal tasks "
    "(MOSSBench, white image) show their refusal rate, where lower is better, and stay off both means. "
    "MIS counts as one benchmark: its safe rate averaged over splits. harmlessness = mean over safety "
    "benchmarks, helpfulness = mean over general benchmarks."
)


@dataclass
class ReportPaths:
    """What `build_report` wrote, plus the leaderboard rows (for printing)."""

    out: Path
    leaderboard_md: Path
    leaderboard_csv: Path
    html: Path
    charts: dict[str, Path] = field(default_factory=dict)  # model -> per-category safe-rate PNG
    scatter: Path | None = None
    scores_csv: Path | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    score_columns: list[str] = field(default_factory=list)  # the side-by-side table (empty: MIS only)
    score_rows: list[dict[str, Any]] = field(default_factory=list)


def load_runs(run_dirs: Iterable[str | Path]) -> list[Run]:
    """Resolve folders to run folders (searching below ones without results.json) and read them."""
    return [load_run(d) for d in find_run_dirs(run_dirs)]


def build_report(run_dirs: Sequence[str | Path], out: str | Path, *, title: str = "MIS evaluation report",
                 thumb_px: int = 256) -> ReportPaths:
    """Write leaderboard.md/.csv, charts/*.png, scores.csv (with other benchmarks) and report.html.

    ``run_dirs``: `mis eval` output folders, or folders holding several of them. ``thumb_px``: longest
    side of the image thumbnails embedded in the HTML. Raises ReportError on unreadable input.
    """
    if not run_dirs:
        raise ReportError("no run folders given")
    runs = load_runs(run_dirs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    results = [r for run in runs for r in run.results]
    columns, rows = leaderboard(results)
    columns = [c for c in columns if any(row.get(c) not in (None, "") for row in rows) or c in
               ("model", "task", "n")]
    paths = ReportPaths(out=out, leaderboard_md=out / "leaderboard.md",
                        leaderboard_csv=out / "leaderboard.csv", html=out / "report.html",
                        columns=columns, rows=rows)
    write_csv(paths.leaderboard_csv, columns, rows)

    charts: list[tuple[str, Path]] = []
    for model, name in _file_names(dict.fromkeys(r.model for r in results)).items():
        png = safe_rate_chart(model, results, out / "charts" / f"safe_rate_{name}.png")
        if png is not None:
            paths.charts[model] = png
            charts.append((f"{model}: per-category safe rate (100 - ASR) by split", png))

    md = [f"# {title}\n", f"Runs: {', '.join(f'`{run.path}`' for run in runs)}\n",
          "## Leaderboard\n", "Rates are % of all samples; ASR lower is better (MIS).\n",
          markdown_table(columns, rows)]
    tables = [{"title": "Leaderboard", "note": "Rates are % of all samples; lower ASR is better.",
               "columns": columns, "rows": [[fmt(row.get(c)) for c in columns] for row in rows]}]
    if has_benchmarks(results):
        scores = model_scores(results)
        s_cols, s_rows = scores_table(scores)
        paths.scores_csv = write_csv(out / "scores.csv", s_cols, s_rows)
        paths.score_columns, paths.score_rows = s_cols, s_rows
        md += ["\n## Safety and general ability\n", _SCORES_NOTE + "\n", markdown_table(s_cols, s_rows)]
        tables.append({"title": "Safety and general ability", "note": _SCORES_NOTE, "columns": s_cols,
                       "rows": [[fmt(row.get(c)) for c in s_cols] for row in s_rows]})
        paths.scatter = scatter_chart(scores, out / "charts" / "harmless_vs_helpful.png")
        if paths.scatter is not None:
            charts.insert(0, ("Harmlessness vs helpfulness across models", paths.scatter))
    if charts:
        md.append("\n## Charts\n")
        md += [f"![{caption}]({png.relative_to(out).as_posix()})\n" for caption, png in charts]
    md.append("\nPer-sample responses and verdicts: [report.html](report.html)\n")
    paths.leaderboard_md.write_text("\n".join(md), encoding="utf-8")

    render_html(path=paths.html, title=title, runs=runs, thumb_px=thumb_px, tables=tables, charts=charts)
    log.info("report written to %s (%d runs, %d results)", out, len(runs), len(results))
    return paths


def _clear_previous(out: Path) -> None:
    """Remove what an earlier report wrote here, so no chart of a model left out survives a rebuild."""
    stale = [out / "scores.csv", *(out / "charts").glob("safe_rate_*.png"),
             out / "charts" / "harmless_vs_helpful.png"]
    for path in stale:
        path.unlink(missing_ok=True)


def _file_names(models: Iterable[str]) -> dict[str, str]:
    """A short, unique, filesystem-safe name per model string."""
    names: dict[str, str] = {}
    for model in models:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("._") or "model"
        if len(slug) > 60:
            slug = slug[-60:].lstrip("._")
        if slug in names.values():
            slug = f"{slug}_{hashlib.sha256(model.encode()).hexdigest()[:8]}"
        names[model] = slug
    return names
