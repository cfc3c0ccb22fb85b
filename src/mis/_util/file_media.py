"""Images by reference through inspect: file markers, inlined at the provider boundary or sent as ``file://``.

A run's samples carry each image as a *file marker*: a tiny data URI whose payload is ``mis-file:`` and the
file's URI (nothing is read). inspect snapshots, logs and condenses every model input; with markers that
is a few hundred bytes per image instead of megabytes of base64 (CPU and memory per sample), and no
sample state holds image bytes. Each image is read and base64-encoded once per sample, shared by the
model's and the judge's requests and released when the sample finishes (:data:`ENCODED`). How the bytes get
into a request depends on the provider (:func:`inline_at_the_boundary`):

- providers that send through the ``openai`` client (OpenAI, vLLM, any OpenAI-compatible server): the
  markers stay in the messages down to the request body, and :func:`splice` puts each image's base64 into
  the body's bytes in its marker's place (:mod:`mis._util.fast_json` hooks the client). No image becomes a
  Python string or passes through the JSON encoder: the body is kept as pieces (the images' pieces being
  the shared encodings themselves) and joined only while the socket takes it, not for the whole second or
  more that a request waits for its reply;
- every other provider (and provider batch APIs, which write their own request files) gets ordinary data
  URIs in the messages, just before it sees them.

``--image-transport file``: vLLM started with ``--allowed-local-media-path DIR`` reads ``file://`` image
URLs itself, so the client need not hold, encode or send the image bytes for the model's requests; inspect
requires inline data URIs at the model boundary, which markers are. The OpenAI-compatible provider's
message conversion (:func:`send_files`) turns each marker into the ``file://`` URL in the request; the judge
inlines them as above.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # inspect is imported where it is used: hfvlm's engine reads markers without it
    from inspect_ai.model import ChatMessage, Model

_DATA_PREFIX = "data:image/png;base64,"
#: Every file marker starts with this (``mis-file:`` is 9 bytes, so its base64 ends on a group boundary).
FILE_MARK = _DATA_PREFIX + base64.b64encode(b"mis-file:").decode()


def file_marker(path: str | Path) -> str:
    """The marker data URI of the image at ``path`` (its absolute ``file://`` URI inside; nothing is read)."""
    uri = Path(path).absolute().as_uri()
    return FILE_MARK + base64.b64encode(uri.encode("utf-8")).decode()


def marked_file(ref: str) -> str | None:
    """The ``file://`` URI inside a file marker, or None when ``ref`` is not one."""
    if not ref.startswith(FILE_MARK):
        return None
    return base64.b64decode(ref[len(_DATA_PREFIX):])[len(b"mis-file:"):].decode("utf-8")


def marked_path(ref: str) -> str | None:
    """The local path inside a file marker, or None."""
    from urllib.parse import unquote, urlparse

    uri = marked_file(ref)
    return unquote(urlparse(uri).path) if uri is not None else None


def send_files(api: Any) -> None:
    """Make an inspect OpenAI-compatible model API send file markers as ``file://`` image URLs.

    Wraps the API's own ``messages_to_openai`` hook (the one each provider subclass overrides): inspect
    converts the messages as always, then each ``image_url`` that is a marker gets its file's URL back.
    """
    convert: Callable[[Any], Awaitable[list[Any]]] = api.messages_to_openai

    async def messages_to_openai(input: Any) -> list[Any]:  # noqa: A002 - inspect's parameter name
        messages = await convert(input)
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            for part in content if isinstance(content, list) else []:
                image = part.get("image_url") if isinstance(part, dict) else None
                if isinstance(image, dict) and isinstance(image.get("url"), str):
                    uri = marked_file(image["url"])
                    if uri is not None:
                        image["url"] = uri
        return messages

    api.messages_to_openai = messages_to_openai


# -- markers inlined at the model boundary ---------------------------------------------------------------
class _Encoded:
    """Base64 of the marked files in flight: read and encoded once, shared by a sample's requests.

    The model's request encodes a sample's images; the judge's request of the same sample reuses them; the
    runner releases them when the sample is finished. ``capacity`` bounds what samples that never finish
    (a failed generation) can leave behind: least recently used first out.
    """

    def __init__(self, capacity: int = 160) -> None:
        self.capacity = capacity
        self._b64: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._sha256: dict[str, tuple[tuple[int, int], str]] = {}
        self._lock = threading.Lock()

    def encoded(self, path: str) -> tuple[str, bytes]:
        """``(mime type, base64 bytes)`` of the file at ``path`` (read and encoded on first use)."""
        with self._lock:
            known = self._b64.get(path)
            if known is not None:
                self._b64.move_to_end(path)
                return known
        known = _encode(path)
        with self._lock:
            self._b64[path] = known
            while len(self._b64) > self.capacity:
                self._b64.popitem(last=False)
        return known

    def get(self, path: str) -> str:
        """The file's data URI as a string (for providers that take the messages as they are)."""
        mime, b64 = self.encoded(path)
        return f"data:{mime};base64,{b64.decode('ascii')}"

    def release(self, paths: Iterable[str]) -> None:
        with self._lock:
            for path in paths:
                self._b64.pop(path, None)
                self._sha256.pop(path, None)

    def know(self, paths: Iterable[str], hashes: Iterable[str | None] | None) -> None:
        """Remember the gate's sha256 of files a sample sends (until :meth:`release`), with their stamp."""
        for path, sha in zip(paths, hashes or (), strict=False):
            if sha:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                with self._lock:
                    self._sha256[path] = ((st.st_size, st.st_mtime_ns), sha)

    def sha256(self, path: str) -> str | None:
        """The remembered sha256 of ``path`` while the file is unchanged (None: not known)."""
        known = self._sha256.get(path)
        if known is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return known[1] if known[0] == (st.st_size, st.st_mtime_ns) else None

    def __len__(self) -> int:
        return len(self._b64)


ENCODED = _Encoded()


def _encode(path: str) -> tuple[str, bytes]:
    mime = mimetypes.guess_type(path, strict=False)[0] or "image/png"
    with open(path, "rb") as fh:
        return mime, base64.b64encode(fh.read())


# -- markers spliced into request bodies -----------------------------------------------------------------
#: A marker as it appears in a JSON body: a string value that starts with the marker prefix.
_BODY_MARK = b'"' + FILE_MARK.encode("ascii")


class SplicedBody:
    """A request body as pieces: the JSON around the images, and each image's shared base64 in place.

    ``len()`` is the body's length (sent as ``Content-Length``); ``bytes()`` joins the pieces (the body).
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.length = sum(len(p) for p in pieces)

    def __len__(self) -> int:
        return self.length

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.pieces)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def splice(body: bytes) -> bytes | SplicedBody:
    """``body`` (JSON) with each file-marker string replaced by its file's data URI; unchanged without one.

    A marker's payload is base64 (no quote or backslash can occur in it), so its string ends at the next
    ``"``. The data URI is the same text :meth:`_Encoded.get` gives, so the body equals the JSON of the
    inlined messages byte for byte.
    """
    start = body.find(_BODY_MARK)
    if start < 0:
        return body
    pieces: list[bytes] = []
    done = 0
    while start >= 0:
        begin = start + 1  # after the opening quote
        end = body.index(b'"', begin + len(FILE_MARK))
        path = marked_path(body[begin:end].decode("ascii"))
        if path is None:  # pragma: no cover - every _BODY_MARK is a marker
            raise ValueError("malformed file marker in a request body")
        mime, b64 = ENCODED.encoded(path)
        pieces += [body[done:begin], f"data:{mime};base64,".encode("ascii"), b64]
        done = end
        start = body.find(_BODY_MARK, end)
    pieces.append(body[done:])
    return SplicedBody(pieces)


def inline(messages: list[ChatMessage]) -> list[ChatMessage]:
    """``messages`` with every file marker replaced by its file's data URI (unmarked messages unchanged)."""
    from inspect_ai.model import ContentImage

    out = []
    for message in messages:
        if not isinstance(message.content, str) and any(
                isinstance(c, ContentImage) and c.image.startswith(FILE_MARK) for c in message.content):
            parts = []
            for c in message.content:
                path = marked_path(c.image) if isinstance(c, ContentImage) else None
                parts.append(c.model_copy(update={"image": ENCODED.get(path)}) if path is not None else c)
            message = message.model_copy(update={"content": parts})
        out.append(message)
    return out


def markers_in(messages: Iterable[ChatMessage]) -> list[str]:
    """The local paths of every file marker in ``messages``."""
    from inspect_ai.model import ContentImage

    return [path for m in messages if not isinstance(m.content, str) for c in m.content
            if isinstance(c, ContentImage) and (path := marked_path(c.image)) is not None]


#: Set by :func:`mis._util.fast_json.install` once the ``openai`` client splices bodies.
_SPLICING = False


def enable_splicing() -> None:
    """Declare the ``openai`` client's body hook installed (markers may now reach that client)."""
    global _SPLICING
    _SPLICING = True


def splices_bodies(api: Any) -> bool:
    """Whether ``api`` sends through the ``openai`` client with mis's body hook (markers may reach it)."""
    client = getattr(api, "client", None)
    if client is None or not _SPLICING:
        return False
    from openai import AsyncOpenAI

    return isinstance(client, AsyncOpenAI)


def inline_at_the_boundary(model: Model) -> Model:
    """Make ``model`` send file markers as the images' data URIs (see the module docstring). Idempotent.

    inspect snapshots, logs and condenses the messages a model is given; with markers there those are a few
    hundred bytes per image instead of megabytes of base64. The provider (any of inspect's: OpenAI,
    Anthropic, an OpenAI-compatible server ...) still sends ordinary data URIs: spliced into the body by
    the ``openai`` client's hook, or put into the messages just before a provider without it sees them
    (and for provider batch APIs, whose request files are written by inspect).
    """
    api = model.api
    if getattr(api, "_mis_inline", False):
        return model
    generate = api.generate
    spliced = splices_bodies(api)

    async def generate_inline(input: list[ChatMessage], *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        config = kwargs.get("config", args[2] if len(args) > 2 else None)
        if spliced and not getattr(config, "batch", None):
            return await generate(input, *args, **kwargs)
        return await generate(inline(input), *args, **kwargs)

    api.generate = generate_inline  # type: ignore[method-assign]
    api._mis_inline = True  # type: ignore[attr-defined]
    return model
