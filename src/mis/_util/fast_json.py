"""Request bodies for the ``openai`` client serialized by orjson: the same JSON, a fraction of the CPU.

The client serializes every request body with the standard library's ``json`` (``openapi_dumps``), whose
string escaping runs at about 350 MB/s: a MIS request carries two base64 images (4.8 MB of JSON), so the
model's and the judge's requests cost ~30 ms of CPU per sample, more than everything else mis does per
sample (docs/performance.md). orjson writes the same compact form (``separators=(",", ":")``, non-ASCII
kept) in well under a millisecond. :func:`install` swaps it in for the client's request bodies; anything
orjson does not take the same way (pydantic models, datetimes, dataclasses, other types) goes through the
client's own encoder hooks, and any value orjson refuses falls back to the client's function unchanged.
The bytes are the client's own (compact separators, non-ASCII kept, the same escapes), except that a float
in exponent form is spelled as the shortest round-trip (``1e-7`` where ``json`` writes ``1e-07``): the same
number. A NaN or infinity, which the client refuses (``allow_nan=False``), is refused here too.
"""

from __future__ import annotations

import logging
import math
from typing import Any

logger = logging.getLogger(__name__)
_ORIGINAL: Any = None


def _default(value: Any) -> Any:
    from openai._utils._json import _CustomEncoder

    return _CustomEncoder().default(value)  # datetime.isoformat(), pydantic model_dump, else TypeError


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def dumps(obj: Any) -> bytes:
    """``openapi_dumps(obj)`` through orjson (the same JSON; see the module docstring)."""
    import orjson

    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    try:
        if not _finite(obj):
            return bytes(_ORIGINAL(obj))  # raises, as the client does
        return orjson.dumps(obj, default=_default, option=options)
    except (TypeError, orjson.JSONEncodeError):
        return bytes(_ORIGINAL(obj))


def install() -> bool:
    """Serialize the ``openai`` client's request bodies with :func:`dumps` (idempotent); False: no orjson."""
    global _ORIGINAL
    try:
        import orjson  # noqa: F401
        from openai import _base_client
    except ImportError:
        return False
    if _ORIGINAL is None:
        _ORIGINAL = _base_client.openapi_dumps
        _base_client.openapi_dumps = dumps  # type: ignore[attr-defined]
        logger.debug("openai request bodies: orjson")
    return True


__all__ = ["dumps", "install"]
