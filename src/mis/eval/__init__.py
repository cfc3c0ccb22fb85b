"""Evaluation: every benchmark, MIS included, is one spec run by one resumable runner.

Specs are defined in :mod:`mis.eval.spec` (one file each in :mod:`mis.eval.benchmarks`), the runner is
:mod:`mis.eval.runner`.

``run_eval`` (`mis eval`), ``run_bench`` (`mis bench run`) and ``run_judge`` (`mis judge`) build the runs from
their configs. Importing this package is light: inspect is imported only when those are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mis.eval.metrics import Outcome, Verdict, outcome_of, summarize

if TYPE_CHECKING:
    from mis.eval.benchmarks import get, registered
    from mis.eval.commands import check_unknown, run_bench, run_eval, run_judge
    from mis.eval.config import BenchConfig, EvalConfig, JudgeConfig
    from mis.eval.spec import Benchmark, JudgeContext, register

__all__ = [
    "BenchConfig",
    "Benchmark",
    "EvalConfig",
    "JudgeConfig",
    "JudgeContext",
    "Outcome",
    "Verdict",
    "check_unknown",
    "get",
    "outcome_of",
    "register",
    "registered",
    "run_bench",
    "run_eval",
    "run_judge",
    "summarize",
]

_LAZY = {
    **dict.fromkeys(("check_unknown", "run_bench", "run_eval", "run_judge"), "commands"),
    **dict.fromkeys(("BenchConfig", "EvalConfig", "JudgeConfig"), "config"),
    **dict.fromkeys(("Benchmark", "JudgeContext", "register"), "spec"),
    **dict.fromkeys(("get", "registered"), "benchmarks"),
}


def __getattr__(name: str) -> Any:
    """Load the inspect-backed parts only when they are used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"mis.eval.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'mis.eval' has no attribute {name!r}")
