"""The open guard judges as ``--judge-protocol`` choices: one request, one reply, read into a guard verdict.

Each protocol lives in its own module; :mod:`mis.judges._guard_judge` sends the request and reads the reply.
"""

from __future__ import annotations

from mis.errors import UsageError
from mis.judges._base import Judge, JudgeSettings
from mis.judges._open import OPEN_GUARDS


def open_guard(name: str, settings: JudgeSettings) -> Judge:
    """The open guard protocol ``name`` (one of :data:`OPEN_GUARDS`) with ``settings``."""
    if name in ("llama-guard-4", "llama-guard-4-prompt"):
        from mis.judges.llama_guard4 import llama_guard4

        return llama_guard4(settings, mode="prompt" if name.endswith("-prompt") else "chat")
    if name == "proguard":
        from mis.judges.proguard import proguard

        return proguard(settings)
    if name == "guardreasoner-vl":
        from mis.judges.guardreasoner_vl import guardreasoner_vl

        return guardreasoner_vl(settings)
    raise UsageError(f"unknown open judge protocol {name!r}; choose one of {', '.join(OPEN_GUARDS)}")
