"""Results broken down by a benchmark's own fields: every ``by_<field>`` of a results.json.

MIS has ``by_category`` / ``by_sub_category`` (charted); other benchmarks summarise by what their release
reports: HoliSafe by ``type``, VLSBench by ``source``, MIR-SafetyBench by ``relationship_type`` and
``n_images``. The report shows each as a table (field value x metric, with n) and writes them all, long
form, to ``breakdowns.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mis.report._load import RunResult, _buckets
from mis.report._tables import md_escape, write_csv

#: MIS's own groups, already shown as charts.
CHARTED = ("by_category", "by_sub_category")
COLUMNS = ["benchmark", "model", "judge", "field", "value", "n", "metric", "result"]


def breakdowns(result: RunResult) -> dict[str, dict[str, dict[str, float]]]:
    """``field -> value -> metrics`` of every ``by_<field>`` in a result (MIS's charted ones left out)."""
    out = {}
    for key, value in result.raw.items():
        if not key.startswith("by_") or (result.benchmark == "mis" and key in CHARTED):
            continue
        buckets = _buckets(value, f"{result.run_dir}: {key}")
        if buckets:
            out[key[3:]] = buckets
    return out


def breakdown_markdown(results: Sequence[RunResult]) -> list[str]:
    """One table per (result, field): its values as rows, the metrics as columns."""
    md: list[str] = []
    for r in results:
        for field, buckets in breakdowns(r).items():
            metrics = list(dict.fromkeys(m for b in buckets.values() for m in b if m != "n"))
            if not md:
                md.append("\n## Breakdowns by the benchmarks' own fields\n")
            md.append(f"### {md_escape(r.benchmark)} by {md_escape(field)}: {md_escape(r.model)}\n")
            md.append("| " + " | ".join([md_escape(field), "n", *map(md_escape, metrics)]) + " |")
            md.append("|" + "---|" * (len(metrics) + 2))
            for value, b in buckets.items():
                cells = [md_escape(value), str(int(b.get("n", 0))), *(f"{b[m]:.2f}" if m in b else "-"
                                                                      for m in metrics)]
                md.append("| " + " | ".join(cells) + " |")
            md.append("")
    return md


def write_breakdowns(results: Sequence[RunResult], path: Path) -> int:
    """Every breakdown, long form (one row per result x field x value x metric); returns the row count."""
    rows: list[dict[str, Any]] = []
    for r in results:
        for field, buckets in breakdowns(r).items():
            for value, b in buckets.items():
                rows += [{"benchmark": r.benchmark, "model": r.model, "judge": r.judge, "field": field,
                          "value": value, "n": int(b.get("n", 0)), "metric": m, "result": v}
                         for m, v in b.items() if m != "n"]
    if rows:
        write_csv(path, COLUMNS, rows)
    return len(rows)
