"""Judges: the one layer that turns a model's response into a verdict.

- :class:`JudgeSettings` says which model judges and how it is called; :class:`Judge` is a protocol bound to
  its settings: ``identity`` (model, protocol, template sha256, decoding) and the ``scorer`` that judges one
  sample. One model factory and one API-key policy (:func:`judge_model`), one failure policy (:func:`ask`):
  a judgement that cannot be obtained is ``unknown`` with its reason, never silent, never a crash.
- Protocols, one module and one template each: :mod:`~mis.judges.mis` (the MIS rubric),
:mod:`~mis.judges.guard`
  (Llama Guard 3), :mod:`~mis.judges.siuo`, :mod:`~mis.judges.mssbench`, :mod:`~mis.judges.mossbench`,
  :mod:`~mis.judges.refusal` (string match), :mod:`~mis.judges.mcq` (answer letters) and
  :mod:`~mis.judges.exact` (ground-truth judges plugged in through an entry point).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mis.judges._verdict import Outcome, Verdict, VerdictParseError, outcome_of

if TYPE_CHECKING:
    from mis.judges._base import (
        UNKNOWN,
        Judge,
        JudgeSettings,
        Reply,
        ask,
        identity,
        judge_model,
        labelled_judge,
        score,
    )
    from mis.judges._images import image_prompt, images_then, sample_images
    from mis.judges._text import neutralise, parse_verdict
    from mis.judges.exact import exact_judge, exact_judge_names, is_exact, register_exact_judge
    from mis.judges.guard import llama_guard, llama_guard_prompt, parse_llama_guard
    from mis.judges.mcq import extract_letter, mcq_match, mcq_prompt
    from mis.judges.mis import DEFAULT_RUBRIC, mis_judge, rubric_text
    from mis.judges.mossbench import mossbench_judge, parse_mossbench
    from mis.judges.mssbench import mssbench_judge, parse_mssbench
    from mis.judges.refusal import is_refusal, refusal_match
    from mis.judges.siuo import parse_siuo, siuo_judge

__all__ = [
    "DEFAULT_RUBRIC",
    "UNKNOWN",
    "Judge",
    "JudgeSettings",
    "Outcome",
    "Reply",
    "Verdict",
    "VerdictParseError",
    "ask",
    "exact_judge",
    "exact_judge_names",
    "extract_letter",
    "identity",
    "image_prompt",
    "images_then",
    "is_exact",
    "is_refusal",
    "judge_model",
    "labelled_judge",
    "llama_guard",
    "llama_guard_prompt",
    "mcq_match",
    "mcq_prompt",
    "mis_judge",
    "mossbench_judge",
    "neutralise",
    "mssbench_judge",
    "outcome_of",
    "parse_llama_guard",
    "parse_mossbench",
    "parse_mssbench",
    "parse_siuo",
    "parse_verdict",
    "refusal_match",
    "register_exact_judge",
    "rubric_text",
    "sample_images",
    "score",
    "siuo_judge",
]

_LAZY = {
    **dict.fromkeys(("UNKNOWN", "Judge", "JudgeSettings", "Reply", "ask", "identity", "judge_model",
                     "labelled_judge", "score"), "_base"),
    **dict.fromkeys(("image_prompt", "images_then", "sample_images"), "_images"),
    **dict.fromkeys(("parse_verdict", "neutralise"), "_text"),
    **dict.fromkeys(("exact_judge", "exact_judge_names", "is_exact", "register_exact_judge"), "exact"),
    **dict.fromkeys(("llama_guard", "llama_guard_prompt", "parse_llama_guard"), "guard"),
    **dict.fromkeys(("extract_letter", "mcq_match", "mcq_prompt"), "mcq"),
    **dict.fromkeys(("DEFAULT_RUBRIC", "mis_judge", "rubric_text"), "mis"),
    **dict.fromkeys(("mossbench_judge", "parse_mossbench"), "mossbench"),
    **dict.fromkeys(("mssbench_judge", "parse_mssbench"), "mssbench"),
    **dict.fromkeys(("is_refusal", "refusal_match"), "refusal"),
    **dict.fromkeys(("parse_siuo", "siuo_judge"), "siuo"),
}


def __getattr__(name: str) -> Any:
    """Import a protocol module (and inspect) only when one of its names is used."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"mis.judges.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'mis.judges' has no attribute {name!r}")
