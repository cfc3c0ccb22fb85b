"""The judge-agreement section: runs of the same model's responses judged by different judges or rubrics.

Found among the report's run folders (same benchmark, same model, another judge identity) and compared with
:func:`mis.eval.agreement.compare` (Cohen's kappa, raw agreement, confusion); runs of different responses are
left out with a note, never compared.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mis.errors import DataError
from mis.eval.agreement import compare
from mis.report._load import Run

log = logging.getLogger(__name__)


def judge_agreement(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One comparison per pair of run folders that judged the same responses with different judges."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        first = run.results[0] if run.results else None
        if first is None or not run.samples:
            continue
        groups.setdefault((first.benchmark or first.task, first.model), []).append(run)
    found = []
    for (_, model), members in groups.items():
        for a, b in itertools.combinations(members, 2):
            ja, jb = _identity(a), _identity(b)
            if ja == jb:
                continue
            try:
                result = compare([Path(a.path), Path(b.path)])
            except DataError as exc:
                log.info("judge agreement: %s and %s not compared (%s)", a.path, b.path, exc)
                continue
            pair = result["pairs"][0]
            found.append({"model": model, "a": ja, "b": jb, "n": pair["n"], "labels": pair["labels"],
                          "disagreements": len(pair["disagreements"]),
                          "metrics": [result["metrics"][name] for name in result["runs"]]})
    return found


def _identity(run: Run) -> str:
    """The judge and protocol of a run folder (from its results.json's top level)."""
    raw = json.loads((Path(run.path) / "results.json").read_text(encoding="utf-8"))
    return f"{raw.get('judge')} ({raw.get('judge_protocol') or 'protocol not recorded'})"


def agreement_markdown(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The section of leaderboard.md (empty when no two judges judged the same responses)."""
    if not rows:
        return []
    out = ["## Judge agreement\n", "| model | judge A | judge B | n | label | agreement % | Cohen's kappa |",
           "|---|---|---|---|---|---|---|"]
    for row in rows:
        for label, stats in row["labels"].items():
            kappa = "-" if stats["kappa"] is None else f"{stats['kappa']:.3f}"
            out.append(f"| {_md(row['model'])} | {_md(row['a'])} | {_md(row['b'])} | {row['n']} | {label} | "
                       f"{stats['agreement']:.2f} | {kappa} |")
    return [*out, ""]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
