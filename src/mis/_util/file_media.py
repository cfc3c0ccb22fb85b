"""Images sent as ``file://`` URLs to a model server on the same filesystem (``--image-transport file``).

vLLM started with ``--allowed-local-media-path DIR`` reads ``file://`` image URLs itself, so the client need
not hold, encode or send the image bytes. inspect, however, requires every image at the model boundary to be
an inline data URI. A sample's image therefore travels through inspect as a *file marker*: a tiny data URI
whose payload is ``mis-file:`` and the file's URI (nothing is read). The OpenAI-compatible provider's message
conversion (:func:`send_files`) turns each marker back into the ``file://`` URL in the request; a judge that
must see the image bytes materializes the file itself (:func:`mis.judges._images.sample_images`).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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
