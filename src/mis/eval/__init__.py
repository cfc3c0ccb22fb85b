"""Evaluate any VLM on MIS: inspect tasks, the MIS judge scorer, metrics, and `run_eval`.

Importing this package is light; inspect is imported by the task, judge and runner modules only when
they are used (``mis.eval.metrics`` is pure Python).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mis.eval._exact import register_exact_judge
from mis.eval.metrics import Outcome, Verdict, outcome_of, summarize

if TYPE_CHECKING:
    from mis.eval._config import EvalConfig, JudgeConfig
    from mis.eval._run import (
        Benchmark,
        EvalRunError,
        RunMismatchError,
        Selection,
        register_benchmark,
        run_eval,
        run_judge,
    )

__all__ = [
    "Benchmark",
    "EvalConfig",
    "EvalRunError",
    "JudgeConfig",
    "Outcome",
    "RunMismatchError",
    "Selection",
    "Verdict",
    "outcome_of",
    "register_benchmark",
    "register_exact_judge",
    "run_eval",
    "run_judge",
    "summarize",
]

_LAZY = {
    "EvalConfig": "_config",
    "JudgeConfig": "_config",
    **dict.fromkeys(("Benchmark", "EvalRunError", "RunMismatchError", "Selection", "register_benchmark",
                     "run_eval", "run_judge"), "_run"),
}


def __getattr__(name: str) -> Any:
    """Load the inspect-backed runner only when it is used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"mis.eval.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'mis.eval' has no attribute {name!r}")
