"""A fault-injecting OpenAI-compatible server: the failures real model and judge servers produce.

Each chat request (numbered from 1 in arrival order) is matched against a list of rules; the first
rule whose schedule matches decides how the request is answered, and unmatched requests get the
scripted reply as usual::

    rules = [Rule(Fault.EMPTY_BODY, every(3)), Rule(Fault.HTTP_429, requests(5, 9))]
    with FaultyOpenAIServer(chat=lambda body: '{"safety": "Safe", ...}', faults=rules) as server:
        ...  # point a judge at server.base_url
    server.applied  # {3: "empty_body", 5: "http_429", 6: "empty_body", ...}

Every request is recorded with its raw bytes (``server.requests[i]["raw"]``), so a test can assert
exactly what reached the server, e.g. that no byte of a file outside a dataset ever did
(:meth:`FaultyOpenAIServer.saw`).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mis.testing._openai_server import ScriptedOpenAIServer, ScriptedReply, message_text


class Fault(StrEnum):
    """How one request is (mis)answered."""

    EMPTY_BODY = "empty_body"
    """HTTP 200 with a 0-byte body."""
    EMPTY_CONTENT = "empty_content"
    """A well-formed completion whose message content is the empty string."""
    MALFORMED_JSON = "malformed_json"
    """HTTP 200 whose body is cut-off JSON (with a correct Content-Length)."""
    TRUNCATED = "truncated"
    """Content-Length larger than what is sent, then the connection closes."""
    HANG = "hang"
    """Never answer (``delay_s`` > 0: give up after that long and close without answering)."""
    SLOW = "slow"
    """Answer normally after ``delay_s`` seconds."""
    RESET = "reset"
    """Reset the TCP connection (RST) without sending anything."""
    REFUSE = "refuse"
    """A completion that refuses: "I'm sorry, but I can't help with that."."""
    QUOTE = "quote"
    """A quoting judge: the graded text (between the markers) quoted around the scripted reply."""
    HTTP_429 = "http_429"
    """Too many requests (with ``Retry-After``)."""
    HTTP_500 = "http_500"
    """Internal server error."""


REFUSAL = "I'm sorry, but I can't help with that."
#: The markers the quoting judge looks for in the request (the MIS rubric's).
QUOTE_MARKERS = ("<<<MIS_RESPONSE_BEGIN>>>", "<<<MIS_RESPONSE_END>>>")


@dataclass(frozen=True)
class Schedule:
    """Which requests a rule applies to: a predicate on (request number from 1, request body)."""

    test: Callable[[int, dict[str, Any]], bool]
    description: str

    def __call__(self, n: int, body: dict[str, Any]) -> bool:
        return self.test(n, body)

    def __repr__(self) -> str:
        return f"Schedule({self.description})"


def every(k: int, start: int | None = None) -> Schedule:
    """Requests start, start+k, start+2k ... (default start=k: "every k-th request": k, 2k, ...)."""
    if k < 1:
        raise ValueError("every(k) needs k >= 1")
    first = k if start is None else start
    return Schedule(lambda n, _: n >= first and (n - first) % k == 0, f"every {k} from {first}")


def requests(first: int, last: int | None = None) -> Schedule:
    """Requests ``first`` to ``last`` inclusive (``last=None``: only ``first``)."""
    end = first if last is None else last
    return Schedule(lambda n, _: first <= n <= end, f"requests {first}-{end}")


def first(k: int) -> Schedule:
    """The first ``k`` requests (a burst at start-up)."""
    return Schedule(lambda n, _: n <= k, f"first {k}")


def always() -> Schedule:
    """Every request."""
    return Schedule(lambda n, _: True, "always")


def where(predicate: Callable[[int, dict[str, Any]], bool], description: str = "custom") -> Schedule:
    """Requests for which ``predicate(n, body)`` is true (e.g. those about one sample)."""
    return Schedule(predicate, description)


def mentions(text: str) -> Schedule:
    """Requests whose message text contains ``text`` (e.g. a sample's tag)."""
    return Schedule(lambda n, body: text in message_text(body), f"mentions {text!r}")


@dataclass(frozen=True)
class Rule:
    """Answer requests matching ``when`` with ``fault``."""

    fault: Fault
    when: Schedule
    delay_s: float = 0.0
    """SLOW: seconds before answering; HANG: seconds before closing (0 = until the server stops)."""
    quote: str = "before"
    """QUOTE: where the quoted text goes relative to the scripted reply: before, after or both."""
    retry_after: str = "0"
    """HTTP_429: the Retry-After header sent."""
    quote_with: Callable[[dict[str, Any]], str] | None = None
    """QUOTE: what to quote from a request (default :func:`quoted_text`: the text between the markers)."""


def quoted_text(body: dict[str, Any], markers: Sequence[str] = QUOTE_MARKERS) -> str:
    """The graded text of a judge request: what lies between the markers (else the last text part)."""
    text = message_text(body)
    begin, end = markers
    if begin in text and end in text.split(begin, 1)[1]:
        inner = text.split(begin, 1)[1]
        return inner[: inner.rindex(end)].strip("\n")
    return text.rsplit("\n", 1)[-1]


def base64_forms(data: bytes) -> list[bytes]:
    """``data`` as it can appear inside base64 text at any of the three byte alignments."""
    forms = [data]
    for shift in range(3):
        chunk = b"\0" * shift + data
        encoded = base64.b64encode(chunk)
        # drop the characters touched by the padding bytes in front and the partial group at the end
        start = (shift * 4 + 2) // 3
        usable = (len(chunk) // 3) * 4
        if usable - start > 8:
            forms.append(encoded[start:usable])
    return forms


class FaultyOpenAIServer(ScriptedOpenAIServer):
    """:class:`ScriptedOpenAIServer` that misanswers scheduled requests (see :class:`Fault`).

    ``chat`` scripts the normal replies (as for the parent class); ``faults`` is a list of
    :class:`Rule`; ``applied`` maps each faulted request number to the fault used.
    """

    def __init__(self, chat: Callable[[dict[str, Any]], str | ScriptedReply] | None = None,
                 faults: Sequence[Rule] = (), **kwargs: Any) -> None:
        super().__init__(chat=chat, **kwargs)
        self.faults = list(faults)
        self.applied: dict[int, str] = {}

    def saw(self, data: bytes) -> bool:
        """True when ``data`` (or its base64 at any alignment) occurs in any request received."""
        received = self.received_bytes()
        return any(form in received for form in base64_forms(data))

    def images_received(self) -> list[bytes]:
        """The bytes of every ``data:`` image URL in every chat request received."""
        found = []
        for body in self.chat_requests():
            for url in re.findall(r'"url":\s*"data:[^;"]*;base64,([^"]+)"', json.dumps(body or {})):
                found.append(base64.b64decode(url))
        return found

    def respond_chat(self, handler: Any, body: dict[str, Any], index: int) -> None:
        """Apply the first matching rule to request ``index``, else answer as scripted."""
        rule = next((r for r in self.faults if r.when(index, body)), None)
        if rule is None:
            super().respond_chat(handler, body, index)
            return
        with self._lock:
            self.applied[index] = rule.fault.value
        self._misanswer(handler, body, rule)

    def _misanswer(self, handler: Any, body: dict[str, Any], rule: Rule) -> None:
        fault = rule.fault
        if fault is Fault.EMPTY_BODY:
            handler.send_raw(200, b"")
        elif fault is Fault.EMPTY_CONTENT:
            handler.send_chat(ScriptedReply(""), body)
        elif fault is Fault.MALFORMED_JSON:
            full = json.dumps(self.completion(body, "unfinished")).encode()
            handler.send_raw(200, full[: len(full) // 2])
        elif fault is Fault.TRUNCATED:
            full = json.dumps(self.completion(body, self.chat_reply(body).content)).encode()
            handler.send_raw(200, full[: len(full) // 2], length=len(full))
            _close(handler, reset=False)
        elif fault is Fault.HANG:
            self._stopping.wait(rule.delay_s or None)
            _close(handler, reset=False)
        elif fault is Fault.SLOW:
            if not self._stopping.wait(rule.delay_s):
                handler.send_chat(self.chat_reply(body), body)
        elif fault is Fault.RESET:
            _close(handler, reset=True)
        elif fault is Fault.REFUSE:
            handler.send_chat(ScriptedReply(REFUSAL), body)
        elif fault is Fault.QUOTE:
            reply = self.chat_reply(body)
            graded = rule.quote_with(body) if rule.quote_with is not None else quoted_text(body)
            quote = f'The response under review says:\n"""\n{graded}\n"""'
            parts = {"before": [quote, reply.content], "after": [reply.content, quote],
                     "both": [quote, reply.content, quote]}[rule.quote]
            handler.send_chat(ScriptedReply("\n".join(parts), status=reply.status), body)
        elif fault is Fault.HTTP_429:
            handler._send(429, {"error": {"message": "rate limited (scripted)", "type": "rate_limit"}},
                          headers={"Retry-After": rule.retry_after})
        elif fault is Fault.HTTP_500:
            handler._send(500, {"error": {"message": "internal error (scripted)", "type": "server"}})


def _close(handler: Any, *, reset: bool) -> None:
    """End the connection: an abrupt RST (``reset``) or a plain close; either way no more replies."""
    handler.close_connection = True
    try:
        if reset:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
        handler.connection.close()
    except OSError:
        pass


__all__ = ["QUOTE_MARKERS", "REFUSAL", "Fault", "FaultyOpenAIServer", "Rule", "Schedule", "always",
           "base64_forms", "every", "first", "mentions", "quoted_text", "requests", "where"]
