"""Exact judges: functions that know the ground truth (e.g. MIS-mini) plugged in as `exact/<name>`.

An exact judge is ``fn(sample_metadata: dict, question: str, response: str) -> Verdict``; it replaces
the VLM judge for synthetic worlds where the right verdict can be computed. ``sample_metadata`` is the
source sample's own ``metadata`` (e.g. MIS-mini's ground truth) overlaid with ``uid``, ``id``,
``split``, ``category``, ``sub_category``, ``question`` and ``images`` (absolute paths). It may also be
an async function. Raising fails the sample (the run stops, finished samples are kept); return
``Verdict.unknown(reason)`` to abstain.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from mis.eval.metrics import Verdict

logger = logging.getLogger(__name__)

ExactJudge = Callable[[dict[str, Any], str, str], Verdict]
EXACT_PREFIX = "exact/"
_EXACT: dict[str, ExactJudge] = {}
#: Modules that register exact judges when imported (tried when a name is not yet registered).
_REGISTRANTS: tuple[str, ...] = ("mis.mini",)


def register_exact_judge(name: str, fn: ExactJudge) -> ExactJudge:
    """Register ``fn`` as the exact judge ``exact/<name>`` (re-registering a name replaces it)."""
    if not name or "/" in name:
        raise ValueError(f"exact judge name {name!r} must be non-empty and contain no '/'")
    _EXACT[name] = fn
    return fn


def exact_judge_names() -> list[str]:
    """Registered exact judge names (after importing the known registrants)."""
    _import_registrants()
    return sorted(_EXACT)


def get_exact_judge(name: str) -> ExactJudge:
    """The exact judge registered as ``name``; a clear error listing the known names otherwise."""
    if name not in _EXACT:
        _import_registrants()
    if name not in _EXACT:
        known = ", ".join(f"exact/{n}" for n in sorted(_EXACT)) or "none registered"
        raise ValueError(f"unknown exact judge 'exact/{name}' (known: {known})")
    return _EXACT[name]


def is_exact(judge: str | None) -> bool:
    """Whether a ``--judge`` value names an exact judge."""
    return bool(judge) and str(judge).startswith(EXACT_PREFIX)


def _import_registrants() -> None:
    for module in _REGISTRANTS:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - a half-built optional registrant must not break others
            logger.debug("could not import %s for exact judges: %s", module, exc)
