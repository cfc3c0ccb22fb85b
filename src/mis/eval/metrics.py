"""Metrics as pure functions over per-sample rows: MIS rates and the rates every other benchmark reports.

MIS (paper App. B.3.1): every rate is a percentage of *all* samples, so a failed judgement (``unknown``)
stays in the denominator instead of silently inflating the safe or unsafe share. Rates are rounded with the
largest-remainder method so the five of them sum to exactly 100.00 for any non-empty bucket. The other
benchmarks' rates (attack success, refusal, accuracy) follow the same rule: unknown stays in the denominator
and is reported as its own rate.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mis.data._taxonomy import TAXONOMY
from mis.judges._verdict import RATE_KEYS, RATE_OF, Outcome, Verdict, outcome_of

__all__ = ["RATE_KEYS", "Outcome", "Verdict", "accuracy", "bootstrap_ci", "by_group", "outcome_of", "pct",
           "rate", "rates", "record_outcome", "summarize"]

UNKNOWN = "unknown"


def rates(outcomes: Sequence[Outcome | str]) -> dict[str, float]:
    """The five rates (percent of all outcomes, 2 decimals, summing to exactly 100; all 0 if empty)."""
    counts = {k: 0 for k in RATE_KEYS}
    for o in outcomes:
        counts[RATE_OF[Outcome(o)]] += 1
    return _largest_remainder_percent(counts, len(outcomes))


def _largest_remainder_percent(counts: Mapping[str, int], n: int) -> dict[str, float]:
    """Round count/n*100 to hundredths so the parts sum to exactly 100.00 (Hamilton's method)."""
    if n == 0:
        return {k: 0.0 for k in counts}
    total_units = 10_000  # hundredths of a percent
    exact = {k: c * total_units / n for k, c in counts.items()}
    floors = {k: int(v) for k, v in exact.items()}
    left = total_units - sum(floors.values())
    # ties broken by the fixed key order so the result is deterministic
    order = sorted(counts, key=lambda k: (-(exact[k] - floors[k]), RATE_KEYS.index(k)))
    for k in order[:left]:
        floors[k] += 1
    return {k: floors[k] / 100 for k in counts}


def _field(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def record_outcome(record: Any) -> Outcome:
    """Outcome of a record: its ``outcome`` field, else derived from ``perception``/``safety``."""
    outcome = _field(record, "outcome")
    if outcome is not None:
        return Outcome(outcome)
    return outcome_of(_field(record, "perception"), _field(record, "safety"))


def _bucket(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    return {"n": len(outcomes), **rates(outcomes)}


def summarize(
    records: Iterable[Any],
    *,
    taxonomy: Mapping[str, Sequence[str]] | None = TAXONOMY,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Aggregate per-sample records (mappings or objects with outcome/category/sub_category).

    Returns ``{"n", "unknown" (count), "metrics", "by_category", "by_sub_category"}`` and, when
    ``bootstrap > 0``, ``"ci"``: a seeded percentile-bootstrap 95% interval per overall rate.
    Every bucket of ``taxonomy`` is listed (empty ones with n=0 and all rates 0) plus any other
    category seen in the data; pass ``taxonomy=None`` to list only what the data holds.
    """
    rows = [(record_outcome(r), _field(r, "category"), _field(r, "sub_category")) for r in records]
    outcomes = [o for o, _, _ in rows]
    cats: dict[str, list[Outcome]] = {c: [] for c in (taxonomy or {})}
    subs: dict[str, list[Outcome]] = {s: [] for c in (taxonomy or {}) for s in (taxonomy or {})[c]}
    for outcome, cat, sub in rows:
        if cat is not None:
            cats.setdefault(str(cat), []).append(outcome)
        if sub is not None:
            subs.setdefault(str(sub), []).append(outcome)
    out: dict[str, Any] = {
        "n": len(outcomes),
        "unknown": sum(o is Outcome.UNKNOWN for o in outcomes),
        "metrics": rates(outcomes),
        "by_category": {c: _bucket(v) for c, v in cats.items()},
        "by_sub_category": {s: _bucket(v) for s, v in subs.items()},
    }
    if bootstrap > 0:
        out["ci"] = bootstrap_ci(outcomes, n_resamples=bootstrap, seed=seed)
    return out


def bootstrap_ci(
    outcomes: Sequence[Outcome | str], *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, list[float]]:
    """Percentile-bootstrap interval per rate (resampling samples with replacement, seeded)."""
    items = [Outcome(o) for o in outcomes]
    if not items:
        return {k: [0.0, 0.0] for k in RATE_KEYS}
    rng = random.Random(seed)
    draws: dict[str, list[float]] = {k: [] for k in RATE_KEYS}
    for _ in range(n_resamples):
        sample = rng.choices(items, k=len(items))
        for k, v in rates(sample).items():
            draws[k].append(v)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    result = {}
    for k, values in draws.items():
        values.sort()
        lo = values[min(len(values) - 1, int(lo_q * len(values)))]
        hi = values[min(len(values) - 1, int(hi_q * len(values)))]
        result[k] = [lo, hi]
    return result


def pct(count: int, total: int) -> float:
    """``count / total`` as a percentage with two decimals (0.0 for an empty bucket)."""
    return round(100.0 * count / total, 2) if total else 0.0


def rate(labels: Sequence[str], positive: str | Iterable[str]) -> float:
    """Share (%) of labels equal to ``positive`` (or in it), over all labels, unknowns included."""
    wanted = {positive} if isinstance(positive, str) else set(positive)
    return pct(sum(1 for x in labels if x in wanted), len(labels))


def accuracy(correct: Sequence[bool]) -> dict[str, float]:
    """Exact-match accuracy (%)."""
    return {"accuracy": pct(sum(1 for c in correct if c), len(correct))}


def by_group(
    records: Sequence[dict[str, Any]],
    key: str,
    fn: Callable[[list[dict[str, Any]]], dict[str, float]],
) -> dict[str, dict[str, float]]:
    """``fn`` applied per value of ``records[i][key]`` (sorted), with ``n`` per group."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[str(r.get(key))].append(r)
    return {g: {"n": len(rs), **fn(rs)} for g, rs in sorted(groups.items())}
