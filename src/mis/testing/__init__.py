"""Real parts for tests and offline runs: an OpenAI-compatible server on loopback with scripted replies.

:class:`BatchOpenAIServer` adds OpenAI's Batch API (files + batches). :class:`FaultyOpenAIServer` adds
scheduled faults (empty or malformed bodies, truncation, hangs, resets, refusals, a quoting judge, 429/500
bursts) and records every byte it receives.
"""

from mis.testing._batch_server import BatchOpenAIServer
from mis.testing._faults import (
    Fault,
    FaultyOpenAIServer,
    Rule,
    Schedule,
    always,
    every,
    first,
    mentions,
    quoted_text,
    requests,
    where,
)
from mis.testing._openai_server import ScriptedOpenAIServer, ScriptedReply, message_text

__all__ = [
    "BatchOpenAIServer",
    "Fault",
    "FaultyOpenAIServer",
    "Rule",
    "Schedule",
    "ScriptedOpenAIServer",
    "ScriptedReply",
    "always",
    "every",
    "first",
    "mentions",
    "message_text",
    "quoted_text",
    "requests",
    "where",
]
