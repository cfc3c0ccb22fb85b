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

A body that holds file markers (:mod:`mis._util.file_media`) leaves here as a
:class:`~mis._util.file_media.SplicedBody`: the images' shared base64 in place of the markers, never joined
into one buffer until it is written. :func:`install` also wraps the client's request builder so that such
a body goes out with its exact ``Content-Length`` (not chunked), joined in one write as the socket takes it:
a request holds its body until the reply comes, so the megabytes exist only for that moment. (Writing the
pieces one by one saved another third of the peak memory but made the receiving server do ~20% more
work per request: docs/performance.md.)
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

logger = logging.getLogger(__name__)
_ORIGINAL: Any = None
#: The spliced body of the request being built on this thread (set by request_body, taken by _build_request).
_PENDING = threading.local()


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


def request_body(obj: Any) -> Any:
    """The request body the client sends: :func:`dumps`, with file markers spliced (module docstring)."""
    from mis._util.file_media import SplicedBody, splice

    body = splice(dumps(obj))
    if isinstance(body, SplicedBody):
        _PENDING.body = body  # picked up by _build_request below, in this same call
    return body


def _with_spliced_body(build: Any) -> Any:
    """Wrap ``BaseClient._build_request``: a spliced body goes out with its length, joined on write."""
    import httpx2

    class _Stream(httpx2.AsyncByteStream, httpx2.SyncByteStream):
        """The pieces, joined only while the body is being written (one write, as for any body).

        A request holds its body until the reply comes (a second, at a model's latency); joined here, the
        megabytes exist only for the moment the socket takes them, and the images stay shared meanwhile.
        """

        def __init__(self, pieces: list[bytes]) -> None:
            self.pieces = pieces

        def __iter__(self) -> Any:
            yield b"".join(self.pieces)

        async def __aiter__(self) -> Any:
            yield b"".join(self.pieces)

    def _build_request(self: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        _PENDING.body = None
        request = build(self, options, *args, **kwargs)
        body, _PENDING.body = _PENDING.body, None
        if body is not None:
            request.headers.pop("Transfer-Encoding", None)
            request.headers["Content-Length"] = str(len(body))
            request.stream = _Stream(body.pieces)
        return request

    _build_request._mis_spliced = True  # type: ignore[attr-defined]
    return _build_request


def install() -> bool:
    """Serialize the ``openai`` client's request bodies with :func:`dumps`, markers spliced (idempotent).

    False: no orjson (the client's own serializer stays, and markers are inlined into messages instead).
    """
    global _ORIGINAL
    try:
        import orjson  # noqa: F401
        from openai import _base_client
    except ImportError:
        return False
    if _ORIGINAL is None:
        _ORIGINAL = _base_client.openapi_dumps
        _base_client.openapi_dumps = request_body  # type: ignore[attr-defined]
        client = _base_client.BaseClient
        if not getattr(client._build_request, "_mis_spliced", False):
            client._build_request = _with_spliced_body(client._build_request)  # type: ignore[method-assign]
        logger.debug("openai request bodies: orjson, images spliced in")
    from mis._util.file_media import enable_splicing

    enable_splicing()
    return True


def installed() -> bool:
    """Whether :func:`install` is in effect (so file markers may reach the ``openai`` client)."""
    return _ORIGINAL is not None


__all__ = ["dumps", "install", "installed", "request_body"]
