"""Leaderboard and safety-vs-general score tables for `mis report` (pure data + md/csv writers).

Harmlessness and helpfulness are one number per model each, so models can be compared on one plot:
- each result gets a headline score where higher is better: MIS -> safe rate (100 - ASR, the mean
  over its easy/hard/real splits counting as one benchmark); another safety task -> ``score``,
  ``safe_rate``, 100 - ``asr``, ``total_acc`` (MSSBench: mean of safe- and unsafe-situation
  accuracy) or ``accuracy`` (first present); a general task -> ``score``, ``accuracy`` or ``acc``;
  a task with a single metric (besides ``unknown``) -> that metric;
- harmlessness = mean headline score over a model's safety benchmarks (MIS included), helpfulness =
  mean over its general benchmarks. Over-refusal tasks (MOSSBench, white image; lower is better) are
  tabled but kept off both axes. Several results of one task for a model (e.g. two judges) are
  averaged, with a warning.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from mis.report._load import MIS_METRICS, RunResult

log = logging.getLogger(__name__)

BASE_COLUMNS: tuple[str, ...] = ("model", "judge", "task", "split", "n", *MIS_METRICS, "n_unknown")
_SCORE_KEYS = {
    "mis": (),
    "safety": ("score", "safe_rate", "-asr", "total_acc", "accuracy"),
    "over_refusal": ("score", "refusal_rate", "rr"),
    "general": ("score", "accuracy", "acc"),
    "other": ("score",),
}
MIS_COLUMN = "mis (safe rate)"


def leaderboard(results: Iterable[RunResult]) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per result (run x task/split): MIS rates first, other tasks' metrics after."""
    rows: list[dict[str, Any]] = []
    extra: list[str] = []
    for r in results:
        row: dict[str, Any] = {
            "model": r.model, "judge": r.judge, "task": r.task, "split": r.split, "n": r.n,
            "n_unknown": r.n_unknown,
        }
        for key, value in r.metrics.items():
            row[key] = value
            if key not in MIS_METRICS and key not in extra:
                extra.append(key)
        rows.append(row)
    return [*BASE_COLUMNS, *extra], rows


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


def markdown_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    """A GitHub markdown table; '|' in cells is escaped."""
    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Path:
    """CSV with full precision; missing cells empty."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return path


def headline_score(r: RunResult) -> float | None:
    """The result's one higher-is-better number (see the module docstring), or None."""
    if r.is_mis:
        return round(100.0 - r.metrics["asr"], 2)
    for key in _SCORE_KEYS[r.kind]:
        if key.startswith("-") and key[1:] in r.metrics:
            return round(100.0 - r.metrics[key[1:]], 2)
        if key in r.metrics:
            return r.metrics[key]
    rest = [v for k, v in r.metrics.items() if k != "unknown"]
    return rest[0] if len(rest) == 1 else None


@dataclass
class ModelScores:
    """A model's headline score per benchmark, grouped by kind, and its two axis values."""

    model: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> column -> score

    @property
    def harmlessness(self) -> float | None:
        """Mean safety score (MIS safe rate and other safety benchmarks), or None."""
        values = [*self.scores.get("mis", {}).values(), *self.scores.get("safety", {}).values()]
        return round(fmean(values), 2) if values else None

    @property
    def helpfulness(self) -> float | None:
        """Mean general-ability score, or None."""
        values = list(self.scores.get("general", {}).values())
        return round(fmean(values), 2) if values else None


def model_scores(results: Sequence[RunResult]) -> list[ModelScores]:
    """Headline scores per model, in first-seen model order."""
    per_model: dict[str, dict[tuple[str, str], list[float]]] = {}
    for model in dict.fromkeys(r.model for r in results):
        mine = [r for r in results if r.model == model]
        mis = [r for r in mine if r.is_mis]
        split_rows = [r for r in mis if r.split not in ("", "all")]
        buckets: dict[tuple[str, str], list[float]] = {}
        if mis:
            # MIS counts as one benchmark: the mean over its splits (the 'all' row only when alone).
            by_split: dict[str, list[float]] = {}
            for r in split_rows or mis:
                by_split.setdefault(r.split, []).append(100.0 - r.metrics["asr"])
            buckets[("mis", MIS_COLUMN)] = [fmean(v) for v in by_split.values()]
        for r in mine:
            if r.is_mis:
                continue
            score = headline_score(r)
            if score is None:
                log.warning("%s: no headline score for task %r (metrics %s); left off the scores table",
                            r.run_dir, r.task, ", ".join(r.metrics) or "none")
                continue
            buckets.setdefault((r.kind, r.task), []).append(score)
        for (kind, task), values in buckets.items():
            if len(values) > 1 and kind != "mis":
                log.warning("model %s has %d results for %s; their mean is used", model, len(values), task)
        per_model[model] = buckets
    out = []
    for model, buckets in per_model.items():
        ms = ModelScores(model)
        for (kind, column), values in buckets.items():
            ms.scores.setdefault(kind, {})[column] = round(fmean(values), 2)
        out.append(ms)
    return out


def scores_table(scores: Sequence[ModelScores]) -> tuple[list[str], list[dict[str, Any]]]:
    """Side-by-side table: safety benchmarks, harmlessness, general benchmarks, helpfulness, over-refusal."""
    def cols(kind: str) -> list[str]:
        return list(dict.fromkeys(c for s in scores for c in s.scores.get(kind, {})))

    safety = cols("mis") + cols("safety")
    general, over, other = cols("general"), cols("over_refusal"), cols("other")
    columns = ["model", *safety, "harmlessness", *general, "helpfulness", *over, *other]
    rows = []
    for s in scores:
        row: dict[str, Any] = {"model": s.model, "harmlessness": s.harmlessness,
                               "helpfulness": s.helpfulness}
        for kind_scores in s.scores.values():
            row.update(kind_scores)
        rows.append(row)
    return columns, rows


def has_benchmarks(results: Sequence[RunResult]) -> bool:
    """Whether any non-MIS result is present (then the side-by-side table is worth writing)."""
    return any(not r.is_mis for r in results)
