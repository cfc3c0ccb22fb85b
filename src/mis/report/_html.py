"""report.html: the leaderboard, the charts and the sample browser's shell (its data is in report_files/).

The page itself holds no sample data, so it stays small whatever the number of models and samples;
the browser script (``templates/report/browser.js``) loads ``report_files/index.js`` and then chunks
on demand. All text from runs goes through jinja2 autoescaping here and through ``textContent`` in the
script: model names, questions and responses are untrusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mis.report._plots import Chart
from mis.report._tables import LONG_COLUMNS, Leaderboard, cells, fmt

_TEXT_KEYS = {"label", "judge", "source"}


def _template_text(name: str) -> str:
    return resources.files("mis").joinpath("templates", "report", name).read_text(encoding="utf-8")


@cache
def definitions() -> list[tuple[str, str]]:
    """The metric definitions shown with the leaderboard (templates/report/definitions.yaml)."""
    import yaml

    return [(str(term), str(text)) for term, text in yaml.safe_load(_template_text("definitions.yaml"))]


def _board(lb: Leaderboard) -> dict[str, Any]:
    columns = [{"key": c.key, "header": c.arrow_header,
                "cls": " ".join(x for x in ("text" if c.key in _TEXT_KEYS else "",
                                            "sorted" if c.key == lb.sort_key else "") if x)}
               for c in lb.columns]
    rows = []
    for r, texts in zip(lb.rows, cells(lb), strict=True):
        row_cells = []
        for c, text in zip(lb.columns, texts, strict=True):
            cls = "label" if c.key == "label" else ("text" if c.key in _TEXT_KEYS else "")
            if c.key == lb.sort_key:
                cls += " sorted"
            row_cells.append({"text": text, "cls": cls.strip(),
                              "title": r.model if c.key == "label" else ""})
        rows.append({"published": r.published, "cells": row_cells})
    return {"columns": columns, "rows": rows}


def _chart_entry(out: Path, chart: Chart) -> dict[str, Any]:
    from PIL import Image

    with Image.open(chart.path) as im:
        width, height = im.size
    return {"src": chart.path.relative_to(out).as_posix(), "caption": chart.caption, "width": width,
            "height": height}


def render_html(*, out: Path, title: str, summary: str, lb: Leaderboard, long_columns: Sequence[str],
                long_rows: Sequence[dict[str, Any]], charts: Sequence[Chart], runs: Sequence[str],
                n_samples: int, n_models: int, published_citation: str,
                published_notes: Sequence[str], agreement: Sequence[dict[str, Any]] = ()) -> Path:
    """Write OUT/report.html."""
    from jinja2 import Environment, select_autoescape

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    long = {"columns": list(long_columns), "text": {*LONG_COLUMNS[:8], "source", "run"},
            "rows": [{c: fmt(row.get(c)) for c in long_columns} for row in long_rows]}
    html = env.from_string(_template_text("report.html.jinja")).render(
        title=title, summary=summary, board=_board(lb), sort_note=lb.sort_note,
        has_published=any(r.published for r in lb.rows), published_citation=published_citation,
        published_notes=published_notes, definitions=definitions(), long=long,
        charts=[_chart_entry(out, c) for c in charts], runs=runs, n_samples=n_samples, n_models=n_models,
        css=_template_text("report.css"), js=_template_text("browser.js"), agreement=list(agreement),
    )
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
