"""Sending one open guard request and reading its reply into the Score every judge returns.

Each protocol module (:mod:`~mis.judges.llama_guard4`, :mod:`~mis.judges.proguard`,
:mod:`~mis.judges.guardreasoner_vl`) says how its request is built from a sample and how its reply reads;
this module sends it under the shared failure policy (:func:`mis.judges._base.ask_judge`: the judge cache,
retries, then ``unknown`` with a ``transport:`` reason) and turns the reading into a Score. The stop reason
is part of the reading: a reply cut off at the decoding budget is ``unknown`` (reason given), never a verdict
read from half a reply. Only a reply read into a verdict is kept in the judge cache.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from inspect_ai.model import ChatMessage
from inspect_ai.scorer import Score, Target
from inspect_ai.solver import TaskState

from mis.judges._base import Judge, JudgeSettings, ask_judge, identity, judge_model, score
from mis.judges._open import GuardReading, check_reply

Messages = Callable[[TaskState], Awaitable[list[ChatMessage]]]
Reader = Callable[[str, TaskState], GuardReading]
#: samples.jsonl fields every guard row carries (None where a guard does not say).
ROW_KEYS: tuple[str, ...] = ("safety", "categories", "request_label")


def guard_judge(
    settings: JudgeSettings,
    protocol: str,
    prompt_sha256: str | None,
    *,
    messages: Messages,
    read: Reader,
    max_tokens: int,
    top_p: float | None = None,
    **config: Any,
) -> Judge:
    """A guard protocol: ``messages`` builds the request, ``read`` reads a complete reply of a sample."""
    budget = settings.max_tokens or max_tokens
    decoding: dict[str, Any] = {"temperature": settings.temperature, "max_tokens": budget}
    if top_p is not None:
        decoding["top_p"] = top_p
    ident = identity(settings.model, protocol, prompt_sha256, **decoding, **config)
    generate_config = settings.generate_config(max_tokens=budget, top_p=top_p)

    async def run(state: TaskState, target: Target) -> Score:
        model = judge_model(settings, generate_config)
        reply = await ask_judge(settings, model, await messages(state), generate_config)
        if reply.text is None:
            reading = GuardReading("unknown", reply.error)
        else:
            reading = check_reply(reply.text, reply.stop_reason, budget) or read(reply.text, state)
            if reading.label != "unknown":
                reply.accept()
        extra = {"categories": None, "request_label": None, **reading.extra}
        return score(
            float(reading.label == "unsafe"),
            reading.label,
            state.output.completion,
            {**ident, "judge": settings.model or str(model)},
            raw=reply.text,
            error=reading.why,
            safety=reading.safety,
            **extra,
        )

    return Judge(identity=ident, scorer=run, metadata_keys=ROW_KEYS)
