"""Turn raw model replies into validated values; anything else is a `Drop` with a reason.

Models wrap JSON in prose or code fences; we take the first JSON object/array in the reply and
validate its fields. A reply that fails is never repaired by guessing: the record is dropped and the
reason (with a short excerpt of the reply) is kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class Drop(Exception):
    """A record is dropped: ``code`` groups reasons in counts, ``reason`` says exactly why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def excerpt(text: str, n: int = 160) -> str:
    """A one-line excerpt for reasons."""
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 3] + "..."


def parse_json(reply: str, step: str) -> Any:
    """The first JSON object or array in ``reply`` (code fences allowed), or Drop('malformed')."""
    candidates = [m.group(1) for m in _FENCE.finditer(reply)] + [reply]
    decoder = json.JSONDecoder()
    for text in candidates:
        for i, ch in enumerate(text):
            if ch in "{[":
                try:
                    value, _ = decoder.raw_decode(text[i:])
                    return value
                except json.JSONDecodeError:
                    continue
    raise Drop("malformed", f"{step}: no JSON object in reply {excerpt(reply)!r}")


def require_dict(value: Any, step: str, reply: str) -> dict[str, Any]:
    """The parsed value as a dict, or Drop('malformed')."""
    if not isinstance(value, dict):
        raise Drop(
            "malformed", f"{step}: expected a JSON object, got {type(value).__name__}: {excerpt(reply)!r}"
        )
    return value


def require_str(obj: dict[str, Any], key: str, step: str) -> str:
    """A non-empty string field, or Drop('malformed')."""
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Drop("malformed", f"{step}: field {key!r} missing or not a non-empty string (got {value!r})")
    return value.strip()


def require_bool(obj: dict[str, Any], key: str, step: str) -> bool:
    """A boolean field (true/false, or the strings "true"/"false"/"yes"/"no"), or Drop('malformed')."""
    value = obj.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no"):
        return value.strip().lower() in ("true", "yes")
    raise Drop("malformed", f"{step}: field {key!r} missing or not a boolean (got {value!r})")


def require_choice(obj: dict[str, Any], key: str, choices: tuple[str, ...], step: str) -> str:
    """A string field from a closed set (case-insensitive), returned in its canonical spelling."""
    value = require_str(obj, key, step)
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise Drop("malformed", f"{step}: field {key!r} is {value!r}, expected one of {list(choices)}")


def normalise_text(text: str) -> str:
    """Lower-case, punctuation-free, single-spaced text: the duplicate key of a question."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
