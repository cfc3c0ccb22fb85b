"""The leaderboard as researchers quote it: one row per model (pure data + markdown/CSV writers).

Columns: ASR / RSR / HR / RR on each harmful MIS split (easy, hard, real), over-refusal on each control
(MIS-mini's benign and white-image splits), unknown and n over those MIS splits, then every other
benchmark's headline metric (attack, over-refusal, general). Only per-split numbers are used: an
aggregate over splits is never a cell, so a model that complies with every harmful request shows ASR
100 on each harmful split however many controls it answered. A model judged by two judges (or
protocols) gets one row per judge. Rows are sorted best-first by one column (hard-split ASR unless
told otherwise); the authors' published numbers sit right below the run of the same model.
"""

from __future__ import annotations

import csv
import html
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.report._load import MIS_RATES, ReportOptionError, RunResult

log = logging.getLogger(__name__)

HARMFUL_ORDER: tuple[str, ...] = ("easy", "hard", "real")
CONTROL_ORDER: tuple[str, ...] = ("benign", "white")
KIND_ORDER: tuple[str, ...] = ("attack", "over_refusal", "general")
RATE_LABEL = {"asr": "ASR", "rsr": "RSR", "hr": "HR", "rr": "RR"}
#: Direction of each MIS rate: ASR and HR lower is better, RSR higher; RR has none (safe, unhelpful).
RATE_HIGHER: dict[str, bool | None] = {"asr": False, "rsr": True, "hr": False, "rr": None}
DEFAULT_SORT = "hard_asr"
LABEL_MAX = 40


@dataclass(frozen=True)
class Column:
    """One leaderboard column: CSV key, header, direction (None: text) and terminal priority (0 = keep)."""

    key: str
    header: str
    higher_is_better: bool | None = None
    priority: int = 50
    kind: str = ""  # attack / over_refusal / general for metric columns
    family: str = "text"  # mis_rate | control | count | benchmark | text
    group: str = ""

    @property
    def is_metric(self) -> bool:
        """Whether the column holds a metric (sortable), not text or a count."""
        return self.family not in ("text", "count")

    @property
    def short_header(self) -> str:
        """The header in short lines for terminals: the group, then the metric and its arrow."""
        if self.family in ("text", "count") or not self.group:
            return self.header
        metric = self.arrow_header[len(self.group):].strip().replace("over-refusal", "over-\nrefusal")
        return f"{self.group}\n{metric}"

    @property
    def arrow_header(self) -> str:
        """The header with the better direction: ↓ lower is better, ↑ higher is better."""
        if self.higher_is_better is None:
            return self.header
        return f"{self.header} {'↑' if self.higher_is_better else '↓'}"


@dataclass
class Row:
    """One leaderboard row: a model (under one judge), or the authors' published numbers for one."""

    model: str
    label: str
    judge: str
    source: str = "run"
    values: dict[str, Any] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    beside: str | None = None  # published rows: the run model they sit below

    @property
    def published(self) -> bool:
        """Whether the row is the authors' published numbers (not a run of ours)."""
        return self.source != "run"


@dataclass
class Leaderboard:
    """Columns (display order), sorted rows and how they were sorted."""

    columns: list[Column]
    rows: list[Row]
    sort_key: str | None
    sort_note: str

    def column(self, key: str) -> Column:
        """A column by key."""
        return next(c for c in self.columns if c.key == key)

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per row, CSV keys (full model string, label, judge, source, values, runs)."""
        return [{"model": r.model, "label": r.label, "judge": r.judge, "source": r.source, **r.values,
                 "runs": " ".join(r.runs)} for r in self.rows]


def group_of(r: RunResult) -> str:
    """The column group of a result: an MIS split's name, else the benchmark (and its split)."""
    if r.benchmark == "mis":
        return r.split if r.split not in ("", "all") else "mis"
    return r.benchmark if r.split in ("", "all") else f"{r.benchmark}/{r.split}"


def short_labels(models: Iterable[str]) -> dict[str, str]:
    """The shortest unique tail (path parts) of each model string, for tables and charts."""
    models = list(dict.fromkeys(models))
    parts = {m: [p for p in m.strip("/").split("/") if p] or [m] for m in models}
    labels: dict[str, str] = {}
    for m in models:
        for k in range(1, len(parts[m]) + 1):
            tail = "/".join(parts[m][-k:])
            if not any(o != m and "/".join(parts[o][-k:]) == tail for o in models):
                break
        labels[m] = tail if len(tail) <= LABEL_MAX else "…" + tail[-(LABEL_MAX - 1):]
    if len(set(labels.values())) < len(labels):  # trimmed tails collide: fall back to full strings
        labels = {m: m for m in models}
    return labels


def build_leaderboard(results: Sequence[RunResult], *, sort: str | None = DEFAULT_SORT,
                      beside: Mapping[str, str] | None = None) -> Leaderboard:
    """The one-row-per-model table; ``beside`` maps a published model label to the run model it follows."""
    beside = dict(beside or {})
    shown = [r for r in results if r.kind != "other"]
    labels = short_labels(r.model for r in shown if not r.published)
    rows: list[Row] = []
    columns: dict[str, Column] = {}
    for model in dict.fromkeys(r.model for r in shown):
        mine = [r for r in shown if r.model == model]
        variants = list(dict.fromkeys(r.judge_id for r in mine if r.has_mis_rates)) or [""]
        for variant in variants:
            rows.append(_row(model, variant, mine, labels.get(model, model), len(variants) > 1, columns,
                             beside.get(model)))
    ordered = _order_columns(columns)
    lb = Leaderboard(columns=ordered, rows=rows, sort_key=None, sort_note="in the order given")
    _sort(lb, sort)
    return lb


def _row(model: str, variant: str, mine: list[RunResult], label: str, several: bool,
         columns: dict[str, Column], beside: str | None) -> Row:
    published = next((r.published for r in mine if r.published), "")
    row = Row(model=model, label=f"{label} [{variant}]" if several and variant else label,
              judge=variant, source=published or "run", beside=beside)
    if published:
        row.label = model  # "<name> (published)"
    whole = {(r.benchmark, r.judge_id) for r in mine if r.split in ("", "all")}
    n = unknown = 0
    counted = known_unknown = False
    for r in mine:
        if r.has_mis_rates:
            if r.judge_id != variant or r.split == "all":
                continue
            group = group_of(r)
            if r.kind == "attack":
                for rate in MIS_RATES:
                    _put(row, columns, Column(f"{group}_{rate}", f"{group} {RATE_LABEL[rate]}",
                                              RATE_HIGHER[rate],
                                              _priority(group, rate), "attack", "mis_rate", group),
                         r.metrics[rate], r)
            else:
                value = r.headline.value if r.headline else r.metrics.get("rr")
                _put(row, columns, Column(f"{group}_over_refusal", f"{group} over-refusal", False,
                                          _priority(group, "over_refusal"), r.kind, "control", group),
                     value, r)
            if r.n is not None:
                n, counted = n + r.n, True
            if r.n_unknown is not None:
                unknown, known_unknown = unknown + r.n_unknown, True
        else:
            if r.split not in ("", "all") and (r.benchmark, r.judge_id) in whole:
                continue  # the benchmark's own headline is shown; its splits are in results.csv
            if r.headline is None:
                log.warning("%s: %s has no headline metric; it is in results.csv only", r.run_dir,
                            group_of(r))
                continue
            group = group_of(r)
            metric = r.headline.metric
            name = RATE_LABEL.get(metric, metric.replace("_", " "))
            _put(row, columns, Column(f"{group}_{metric}", f"{group} {name}", r.headline.higher_is_better,
                                      _priority(group, "headline", r.kind), r.kind, "benchmark", group),
                 r.headline.value, r)
        if str(r.run_dir) not in row.runs and not r.published:
            row.runs.append(str(r.run_dir))
    if counted:
        row.values["unknown"] = unknown if known_unknown else None
        row.values["n"] = n
        columns.setdefault("unknown", Column("unknown", "unknown", None, 30, family="count"))
        columns.setdefault("n", Column("n", "n", None, 31, family="count"))
    return row


def _put(row: Row, columns: dict[str, Column], column: Column, value: Any, r: RunResult) -> None:
    key = column.key
    if key in row.values:
        log.warning("model %s: two results for %s (the later, from %s, is shown; see results.csv)",
                    row.model, column.header, r.run_dir)
    columns.setdefault(key, column)
    row.values[key] = value


def _priority(group: str, metric: str, kind: str = "attack") -> int:
    """Terminal priority: ASR of the harmful splits first, then controls, other benchmarks, other rates."""
    harmful = (*HARMFUL_ORDER, "mis")
    rank = harmful.index(group) if group in harmful else len(harmful)
    if metric == "over_refusal":
        return 10 + (CONTROL_ORDER.index(group) if group in CONTROL_ORDER else 2)
    if metric == "asr" and kind == "attack" and "/" not in group:
        return {"hard": 2, "easy": 3, "real": 4}.get(group, 5 + rank)
    if metric in ("rsr", "rr", "hr"):
        return {"rsr": 40, "rr": 50, "hr": 60}[metric] + rank
    return 20 + (KIND_ORDER.index(kind) if kind in KIND_ORDER else 3)


def _order_columns(columns: dict[str, Column]) -> list[Column]:
    def split_rank(group: str, order: tuple[str, ...]) -> int:
        return order.index(group) if group in order else len(order)

    def rank(c: Column) -> tuple[Any, ...]:
        if c.family == "mis_rate":
            metric = c.key.rpartition("_")[2]
            return (1, split_rank(c.group, HARMFUL_ORDER), c.group, MIS_RATES.index(metric))
        if c.family == "control":
            return (2, split_rank(c.group, CONTROL_ORDER), c.group, 0)
        if c.family == "count":
            return (3, 0 if c.key == "unknown" else 1, "", 0)
        return (4, split_rank(c.kind, KIND_ORDER), c.key, 0)

    return [Column("label", "model", None, 0), *sorted(columns.values(), key=rank),
            Column("judge", "judge", None, 90), Column("source", "source", None, 95)]


def _sort(lb: Leaderboard, key: str | None) -> None:
    """Sort best-first by ``key``; published rows follow the run row they sit beside."""
    metric_keys = [c.key for c in lb.columns if c.is_metric]
    if key and key not in metric_keys:
        if key == DEFAULT_SORT:
            lb.sort_note = "in the order given (no run has a hard split)"
        else:
            raise ReportOptionError(f"--sort {key!r}: no such column; columns: "
                                    f"{', '.join(metric_keys) or 'none'}")
        key = None
    anchored = [r for r in lb.rows if r.published and r.beside is not None
                and any(o.model == r.beside for o in lb.rows if not o.published)]
    free = [r for r in lb.rows if r not in anchored]
    if key:
        col = lb.column(key)
        higher = col.higher_is_better is not False  # no direction (RR): highest first, as the authors sort
        sign = -1.0 if higher else 1.0
        free.sort(key=lambda r: (r.values.get(key) is None, sign * float(r.values.get(key) or 0.0)))
        lb.sort_key = key
        lb.sort_note = f"sorted by {col.arrow_header} ({'higher' if higher else 'lower'} first)"
    rows: list[Row] = []
    for r in free:
        rows.append(r)
        if not r.published:
            rows.extend(a for a in anchored if a.beside == r.model and a not in rows)
    lb.rows = rows


def fmt(value: Any) -> str:
    """A table cell: numbers with two decimals, whole counts as integers, missing as '-'."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def cells(lb: Leaderboard, columns: Sequence[Column] | None = None) -> list[list[str]]:
    """The rows as display text (labels, judges and sources as they are)."""
    columns = columns or lb.columns
    out = []
    for r in lb.rows:
        text = {"label": r.label, "judge": r.judge or "-", "source": r.source}
        out.append([text[c.key] if c.key in text else fmt(r.values.get(c.key)) for c in columns])
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def md_escape(text: str) -> str:
    """Text safe in a markdown table cell: no HTML, no pipes or markup, one line."""
    text = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def markdown_table(headers: Sequence[str], body: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    """A GitHub markdown table; every cell escaped, numeric columns right-aligned."""
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |",
             "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def leaderboard_markdown(lb: Leaderboard) -> str:
    """The leaderboard as markdown (published rows marked in the model cell and the source column)."""
    body = cells(lb)
    for row, r in zip(body, lb.rows, strict=True):
        if r.published:
            row[0] = f"{row[0]} †"
    return markdown_table([c.arrow_header for c in lb.columns], body,
                          [c.is_metric or c.family == "count" for c in lb.columns])


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    """CSV with full precision; missing cells empty."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return path


def leaderboard_csv(lb: Leaderboard, path: Path) -> Path:
    """leaderboard.csv: the CSV keys of every column, the full model string and the run folders."""
    keys = ["model", "label", *(c.key for c in lb.columns if c.key not in ("label", "judge", "source")),
            "judge", "source", "runs"]
    return write_csv(path, keys, lb.records())


LONG_COLUMNS: tuple[str, ...] = ("model", "judge", "judge_protocol", "benchmark", "task", "split", "kind",
                                 "headline_metric", "headline", "higher_is_better", "n", "n_unknown")


def long_records(results: Sequence[RunResult]) -> tuple[list[str], list[dict[str, Any]]]:
    """results.csv: one row per result (model x benchmark x split) with every metric."""
    rows: list[dict[str, Any]] = []
    extra: list[str] = []
    for r in results:
        row: dict[str, Any] = {
            "model": r.model, "judge": r.judge, "judge_protocol": r.judge_protocol, "benchmark": r.benchmark,
            "task": r.task, "split": r.split, "kind": r.kind, "n": r.n, "n_unknown": r.n_unknown,
            "headline_metric": r.headline.metric if r.headline else None,
            "headline": r.headline.value if r.headline else None,
            "higher_is_better": r.headline.higher_is_better if r.headline else None,
            "source": r.published or "run", "run": "" if r.published else str(r.run_dir),
        }
        for key, value in r.metrics.items():
            row[key] = value
            if key not in extra:
                extra.append(key)
        rows.append(row)
    first = [k for k in ("asr", "rsr", "hr", "rr", "unknown") if k in extra]
    return [*LONG_COLUMNS, *first, *(k for k in extra if k not in first), "source", "run"], rows


def fit_columns(columns: Sequence[Column], body: Sequence[Sequence[str]], width: int,
                label_min: int = 12, first: str | None = None) -> tuple[list[int], list[Column], int]:
    """Which columns fit ``width`` terminal cells (rich's SIMPLE_HEAD box without edges).

    Returns the indices kept, the columns dropped and the model label's width (what is left over).

    Columns are taken by priority; numbers are never cut (a column is dropped whole instead); headers are
    ``short_header`` lines; the model label folds down to ``label_min`` cells. The label column is always
    kept, ``first`` (the sort column) right after it.
    """
    width += 3  # the outer columns have no padding on their outer side

    def need(i: int) -> int:
        header = max((len(line) for line in columns[i].short_header.split("\n")), default=0)
        widest = max([len(row[i]) for row in body] + [header])
        if columns[i].key == "label":
            widest = min(widest, max(label_min, header))
        return widest + 3  # one cell of padding each side and one for the column gap

    order = sorted(range(len(columns)), key=lambda i: (columns[i].key != "label", columns[i].key != first,
                                                       columns[i].priority, i))
    kept: list[int] = []
    used = 0
    for i in order:
        cost = need(i)
        if columns[i].key == "label" or used + cost <= width:
            kept.append(i)
            used += cost
    kept.sort()
    label = next((i for i in kept if columns[i].key == "label"), None)
    label_width = 0
    if label is not None:
        widest = max([len(row[label]) for row in body] + [len(columns[label].header)])
        label_width = max(label_min, min(widest, need(label) - 3 + (width - used)))
    return kept, [c for i, c in enumerate(columns) if i not in kept], label_width
