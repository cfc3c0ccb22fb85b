"""Judge agreement: how far two judges (or two rubrics) that judged the same responses agree.

Each run folder's ``samples.jsonl`` holds one verdict per sample. Runs are aligned by sample uid; a pair of
runs must have judged the same responses (the response texts are compared, so runs of different models are
refused). Per label (``safety``, ``perception``, ``outcome``; or ``label`` for other benchmarks) this gives
the raw agreement, Cohen's kappa and the confusion matrix; ``unknown`` (a judgement that failed) is its own
category, so a judge that fails often cannot look agreeable. Pure functions: the CLI prints them, the report
shows them.

An open guard judge (Llama Guard 4, ProGuard, GuardReasoner-VL) labels harmfulness only, so a comparison that
includes one compares ``safety`` alone (the guard's ``unsafe``/``safe`` against the MIS judge's
``Unsafe``/``Safe``). ``deltas`` gives each run's metrics minus the first run's (the reference, e.g. the
paper's judge), for the metrics both report: what choosing that judge changes in the numbers.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mis._util.io import read_jsonl
from mis.errors import DataError
from mis.judges._open import GUARD_PROTOCOLS

#: The labels compared for MIS runs, in order; other benchmarks compare their ``label``.
MIS_LABELS = ("safety", "perception", "outcome")
#: What a comparison with an open guard judge compares (a guard gives no perception level).
GUARD_LABELS = ("safety",)
UNKNOWN = "unknown"


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels of the same items (None when chance agreement is total)."""
    if len(a) != len(b):
        raise ValueError(f"kappa needs paired labels, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def confusion(a: Sequence[str], b: Sequence[str]) -> dict[str, dict[str, int]]:
    """``matrix[label of a][label of b]`` = count, every label seen by either rater in both axes."""
    labels = sorted(set(a) | set(b))
    matrix = {x: dict.fromkeys(labels, 0) for x in labels}
    for x, y in zip(a, b, strict=True):
        matrix[x][y] += 1
    return matrix


def _label(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return UNKNOWN if value is None else str(value)


def load_rows(run: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A run folder's results.json and its samples by uid."""
    results_path, samples_path = Path(run) / "results.json", Path(run) / "samples.jsonl"
    if not results_path.is_file() or not samples_path.is_file():
        raise DataError(f"{run}: not a finished run folder (results.json and samples.jsonl expected)")
    import json

    results = json.loads(results_path.read_text(encoding="utf-8"))
    rows = {str(row["uid"]): row for _, row in read_jsonl(samples_path)}
    return results, rows


def run_name(results: Mapping[str, Any], run: Path) -> str:
    """How a run is named in the comparison: its judge and protocol (the folder when they repeat)."""
    return f"{results.get('judge')} ({results.get('judge_protocol')})"


def compare(runs: Sequence[Path]) -> dict[str, Any]:
    """Agreement between every pair of ``runs`` (which judged the same responses); see the module docstring.

    Returns ``{"runs": [...], "labels": [...], "pairs": [{a, b, n, labels: {name: {agreement, kappa,
    confusion}}, disagreements: [...]}], "metrics": {run: metrics}}``.
    """
    if len(runs) < 2:
        raise DataError("judge compare needs at least two run folders")
    loaded = [(Path(r), *load_rows(Path(r))) for r in runs]
    mis = all(res.get("benchmark", "mis") == "mis" for _, res, _ in loaded)
    guarded = any(res.get("judge_protocol") in GUARD_PROTOCOLS for _, res, _ in loaded)
    labels = (GUARD_LABELS if guarded else MIS_LABELS) if mis else ("label",)
    names = [f"{run_name(res, path)} [{path}]" for path, res, _ in loaded]
    pairs = []
    for (i, (pa, _, rows_a)), (j, (pb, _, rows_b)) in itertools.combinations(enumerate(loaded), 2):
        common = [uid for uid in rows_a if uid in rows_b]
        if not common:
            raise DataError(f"{pa} and {pb} share no sample: judge compare needs runs over the same samples")
        for uid in common:
            if rows_a[uid].get("response") != rows_b[uid].get("response"):
                raise DataError(f"{pa} and {pb}: sample {uid}: field 'response' differs; judge compare "
                                "needs runs that judged the same responses (re-judge one model's responses "
                                "with `mis judge`)")
        per_label = {}
        for name in labels:
            a = [_label(rows_a[u], name) for u in common]
            b = [_label(rows_b[u], name) for u in common]
            agree = sum(x == y for x, y in zip(a, b, strict=True))
            kappa = cohen_kappa(a, b)
            per_label[name] = {"agreement": round(100.0 * agree / len(common), 2),
                               "kappa": None if kappa is None else round(kappa, 4),
                               "confusion": confusion(a, b)}
        key = labels[-1]
        disagreements = [
            {"uid": u, "question": rows_a[u].get("question"), "response": rows_a[u].get("response"),
             names[i]: _label(rows_a[u], key), names[j]: _label(rows_b[u], key),
             "explanations": [rows_a[u].get("explanation"), rows_b[u].get("explanation")]}
            for u in common if _label(rows_a[u], key) != _label(rows_b[u], key)
        ]
        pairs.append({"a": names[i], "b": names[j], "n": len(common), "labels": per_label,
                      "disagreements": disagreements})
    metrics = {names[k]: res.get("metrics", {}) for k, (_, res, _) in enumerate(loaded)}
    return {"runs": names, "labels": list(labels), "pairs": pairs, "metrics": metrics,
            "reference": names[0], "deltas": deltas(metrics, names[0]),
            "unavailable": {names[k]: res["unavailable"] for k, (_, res, _) in enumerate(loaded)
                            if res.get("unavailable")}}


def deltas(metrics: Mapping[str, Mapping[str, Any]], reference: str) -> dict[str, dict[str, float]]:
    """Each run's metrics minus ``reference``'s, for the numeric metrics both report (2 decimals)."""
    base = metrics[reference]
    out = {}
    for name, values in metrics.items():
        if name == reference:
            continue
        out[name] = {k: round(float(v) - float(base[k]), 2) for k, v in values.items()
                     if _number(v) and _number(base.get(k))}
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
