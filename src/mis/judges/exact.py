"""Exact judges: functions that know the ground truth (e.g. MIS-mini), used as ``--judge exact/<name>``.

An exact judge is ``fn(sample_metadata: dict, question: str, response: str) -> Verdict`` (or an async
function): it replaces the VLM judge for synthetic worlds where the right verdict can be computed.
``sample_metadata`` is the source sample's own ``metadata`` overlaid with ``uid``, ``id``, ``split``,
``category``, ``sub_category``, ``question`` and ``images``. Raising fails the sample (the run stops
resumably); return ``Verdict.unknown(reason)`` to abstain.

Plug-in path (the same for mis's own MIS-mini judge and any third party): declare an entry point in the group
``mis.exact_judges`` whose name is the judge name and whose object is the function, e.g. in pyproject.toml
``[project.entry-points."mis.exact_judges"] my-world = "my_pkg.judge:judge_my_world"``; or call
:func:`register_exact_judge` at runtime. Evaluation never imports a judge's package by name.
"""

from __future__ import annotations

import inspect as pyinspect
import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from inspect_ai.scorer import Score, Target
from inspect_ai.solver import TaskState

from mis.errors import UsageError
from mis.judges._base import Judge, identity
from mis.judges._verdict import Verdict
from mis.judges.mis import ROW_KEYS, mis_verdict_score

logger = logging.getLogger(__name__)

ExactJudge = Callable[[dict[str, Any], str, str], Any]
PREFIX = "exact/"
ENTRY_POINT_GROUP = "mis.exact_judges"
_EXACT: dict[str, ExactJudge] = {}


def register_exact_judge(name: str, fn: ExactJudge) -> ExactJudge:
    """Register ``fn`` as the exact judge ``exact/<name>`` (re-registering a name replaces it)."""
    if not name or "/" in name:
        raise UsageError(f"exact judge name {name!r} must be non-empty and contain no '/'")
    _EXACT[name] = fn
    return fn


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def exact_judge_names() -> list[str]:
    """Names of the registered and installed (entry point) exact judges."""
    return sorted(set(_EXACT) | set(_plugins()))


def get_exact_judge(name: str) -> ExactJudge:
    """The exact judge ``name``: registered at runtime, else loaded from its entry point."""
    if name not in _EXACT:
        plugin = _plugins().get(name)
        if plugin is not None:
            _EXACT[name] = plugin.load()
    if name not in _EXACT:
        known = ", ".join(f"{PREFIX}{n}" for n in exact_judge_names()) or "none installed"
        raise UsageError(f"unknown exact judge '{PREFIX}{name}' (known: {known})")
    return _EXACT[name]


def is_exact(judge: str | None) -> bool:
    """Whether a ``--judge`` value names an exact judge."""
    return bool(judge) and str(judge).startswith(PREFIX)


def exact_judge(judge: str) -> Judge:
    """The MIS judge ``exact/<name>`` (no prompt: its sha256 is None)."""
    name = judge[len(PREFIX) :] if is_exact(judge) else judge
    fn = get_exact_judge(name)
    ident = identity(f"{PREFIX}{name}", "exact", None, kind="exact")

    async def run(state: TaskState, target: Target) -> Score:
        response = state.output.completion
        meta = dict(state.metadata)
        sample_metadata = {
            **(meta.pop("source", None) or {}),
            **meta,
        }  # the source's ground truth, ours on top
        result = fn(sample_metadata, meta["question"], response)
        if pyinspect.isawaitable(result):
            result = await result
        if not isinstance(result, Verdict):
            raise TypeError(f"exact judge {name!r} returned {type(result).__name__}, expected a Verdict")
        verdict = Verdict.model_validate(result.model_dump())
        return mis_verdict_score(
            verdict, response, ident, error="" if verdict.perception else verdict.explanation
        )

    return Judge(identity=ident, scorer=run, metadata_keys=ROW_KEYS)
