"""Images by reference through inspect: file markers, inlined at the provider boundary or sent as ``file://``.

A run's samples carry each image as a *file marker*: a tiny data URI whose payload is ``mis-file:`` and the
file's URI (nothing is read). inspect snapshots, logs and condenses every model input; with markers that
is a few hundred bytes per image instead of megabytes of base64 (CPU and memory per sample), and no
sample state holds image bytes. Just before a provider sees the messages, :func:`inline_at_the_boundary`
swaps each marker for the file's data URI, read and encoded once per sample and shared by the model's and
the judge's requests (:data:`ENCODED`).

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
from collections.abc import Awaitable, Callable, Iterable
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
    """Data URIs of the marked files in flight: read and base64-encoded once, shared by a sample's requests.

    The model's request encodes a sample's images; the judge's request of the same sample reuses them; the
    runner releases them when the sample is finished. ``capacity`` bounds what samples that never finish
    (a failed generation) can leave behind: least recently used first out.
    """

    def __init__(self, capacity: int = 160) -> None:
        self.capacity = capacity
        self._uris: OrderedDict[str, str] = OrderedDict()
        self._sha256: dict[str, tuple[tuple[int, int], str]] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> str:
        with self._lock:
            uri = self._uris.get(path)
            if uri is not None:
                self._uris.move_to_end(path)
                return uri
        uri = _data_uri(path)
        with self._lock:
            self._uris[path] = uri
            while len(self._uris) > self.capacity:
                self._uris.popitem(last=False)
        return uri

    def release(self, paths: Iterable[str]) -> None:
        with self._lock:
            for path in paths:
                self._uris.pop(path, None)
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
        return len(self._uris)


ENCODED = _Encoded()


def _data_uri(path: str) -> str:
    mime = mimetypes.guess_type(path, strict=False)[0] or "image/png"
    with open(path, "rb") as fh:
        return f"data:{mime};base64,{base64.b64encode(fh.read()).decode('ascii')}"


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


def inline_at_the_boundary(model: Model) -> Model:
    """Make ``model`` expand file markers into data URIs just before its provider sees the messages.

    inspect snapshots, logs and condenses the messages a model is given; with markers there those are a few
    hundred bytes per image instead of megabytes of base64. The provider (any of inspect's: OpenAI,
    Anthropic, an OpenAI-compatible server ...) still receives ordinary data URIs. Idempotent.
    """
    api = model.api
    if getattr(api, "_mis_inline", False):
        return model
    generate = api.generate

    async def generate_inline(input: list[ChatMessage], *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        return await generate(inline(input), *args, **kwargs)

    api.generate = generate_inline  # type: ignore[method-assign]
    api._mis_inline = True  # type: ignore[attr-defined]
    return model
