"""The model and judge server for `perf/eval_scale.py`, run in its own process.

A separate process, so that the server's CPU (reading and parsing multi-megabyte request bodies) is
never counted as the client's. It serves `mis.testing.ScriptedOpenAIServer` with a fixed latency per
request and answers by the requested model id:

- ``model``: a fixed short response (the model under test);
- ``judge`` and ``gpt-4o``: a verdict in the form the request's structured output asks for: the
  authors' (``label_perception``, ``label_str``: their ``gpt_eval.py`` and mis's ``paper`` rubric) or
  mis-v1's (``perception``, ``safety``, ``explanation``). Without a schema, ``gpt-4o`` gets the
  authors' form and ``judge`` mis-v1's.

Verdicts cycle over the four outcomes by the sample number tagged in the question (``[sample N]``), so
both protocols must reach the same, known metrics (:func:`expected_counts`). Usage::

    python perf/_scale_server.py --latency 1.0     # prints "READY <base_url>", serves until stdin closes
"""

from __future__ import annotations

import argparse
import json
import re
import socketserver
import sys
from typing import Any

from mis.testing import ScriptedOpenAIServer, ScriptedReply, message_text

#: What the model under test answers, every time (short: the response size is not what is measured).
MODEL_RESPONSE = ("The first image shows a plain object and the second image shows another plain object; "
                  "together they suggest nothing more than a harmless arrangement of two items.")
#: Outcome of sample N is OUTCOMES[N % 4]: (MIS perception, safety, the authors' perception label).
OUTCOMES = (
    ("Level1", "Unsafe", "attack_success"),
    ("Level1", "Safe", "safe_reasoning"),
    ("Level2", "Safe", "refusal"),
    ("Level3", "Safe", "hallucination"),
)
TAG = re.compile(r"\[sample (\d+)\]")
#: The listen backlog: the stdlib default of 5 drops SYNs when 64 clients connect at once (each drop
#: costs the client a 1 s retransmission), which would make the server, not the client, the bottleneck.
LISTEN_BACKLOG = 1024


def sample_tag(n: int) -> str:
    """The marker a harness question carries so the server knows which verdict to give."""
    return f"[sample {n}]"


def expected_counts(ids: list[int]) -> dict[str, int]:
    """How many of each outcome the server's verdicts give for samples ``ids``."""
    counts = {name: 0 for _, _, name in OUTCOMES}
    for i in ids:
        counts[OUTCOMES[i % len(OUTCOMES)][2]] += 1
    return counts


def reply_for(body: dict[str, Any], latency_s: float) -> ScriptedReply:
    """The scripted answer to one chat request (see the module docstring)."""
    model = body.get("model")
    if model == "model":
        return ScriptedReply(MODEL_RESPONSE, delay_s=latency_s)
    found = TAG.search(message_text(body))
    if found is None:
        return ScriptedReply("no [sample N] tag in the judge request", status=400)
    if model not in ("judge", "gpt-4o"):
        return ScriptedReply(f"unknown model {model!r}", status=404)
    perception, safety, _ = OUTCOMES[int(found.group(1)) % len(OUTCOMES)]
    wanted = schema_fields(body)
    authors = "label_str" in wanted if wanted else model == "gpt-4o"
    if authors:
        verdict = {"label_perception": f"Perception {perception}", "label_str": safety}
    else:
        verdict = {"perception": perception, "safety": safety, "explanation": "Scripted verdict."}
    return ScriptedReply(json.dumps(verdict), delay_s=latency_s)


def schema_fields(body: dict[str, Any]) -> set[str]:
    """The property names of the request's ``response_format`` JSON schema (empty without one)."""
    response_format = body.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    return set(schema.get("properties") or {})


def main(argv: list[str] | None = None) -> None:
    """Serve until stdin closes (the harness holds the pipe), then stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each chat reply waits")
    args = parser.parse_args(argv)
    socketserver.TCPServer.request_queue_size = LISTEN_BACKLOG  # this process only (see LISTEN_BACKLOG)
    holder: dict[str, ScriptedOpenAIServer] = {}

    def chat(body: dict[str, Any]) -> ScriptedReply:
        # ScriptedOpenAIServer records every body for tests; at scale that is gigabytes of images.
        holder["server"].requests.clear()
        return reply_for(body, args.latency)

    server = ScriptedOpenAIServer(chat=chat, model_ids=("model", "judge", "gpt-4o"))
    holder["server"] = server
    with server:
        sys.stdout.write(f"READY {server.base_url}\n")
        sys.stdout.flush()
        sys.stdin.read()  # returns when the harness closes the pipe (or exits)


if __name__ == "__main__":
    main()
