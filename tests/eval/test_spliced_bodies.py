"""Images spliced into request bodies (file_media.splice + fast_json's client hook), through a real server.

A request whose messages carry file markers must reach the server as the very bytes the client would send
for the inlined messages (each marker replaced by its file's data URI), with a Content-Length (the loopback
server, like many, does not read chunked bodies); the body is never joined client-side; a batch request,
whose request file inspect writes itself, gets inlined messages instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from openai._utils._json import openapi_dumps as client_dumps

from mis._util import fast_json, file_media
from mis.testing import ScriptedOpenAIServer


def _images(tmp_path: Path) -> list[Path]:
    paths = []
    for k, payload in enumerate((bytes(range(256)) * 300, b"\x89PNG tiny synthetic bytes")):
        path = tmp_path / f"img {k}.png"  # a space: the marker holds the file's URI, quoted
        path.write_bytes(payload)
        paths.append(path)
    return paths


def _messages(images: list[str]) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": [*({"type": "image_url", "image_url": {"url": u}} for u in images),
                                         {"type": "text", "text": "Which shape is bigger?"}]}]


def _uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def test_splice_gives_the_inlined_json_byte_for_byte(tmp_path: Path) -> None:
    paths = _images(tmp_path)
    markers = [file_media.file_marker(p) for p in paths]
    body = fast_json.dumps({"messages": _messages([markers[0], markers[1], markers[0]]), "model": "m"})
    spliced = file_media.splice(body)
    assert isinstance(spliced, file_media.SplicedBody)
    uris = [_uri(paths[0]), _uri(paths[1]), _uri(paths[0])]
    want = client_dumps({"messages": _messages(uris), "model": "m"})
    assert bytes(spliced) == want and len(spliced) == len(want)
    # the image pieces are the shared encodings themselves (no copy per request or per occurrence)
    shared = file_media.ENCODED.encoded(str(paths[0]))[1]
    assert sum(piece is shared for piece in spliced.pieces) == 2
    file_media.ENCODED.release([str(p) for p in paths])
    assert file_media.splice(b'{"text":"no images"}') == b'{"text":"no images"}'


@pytest.mark.parametrize("client_kind", ["async", "sync"])
def test_the_client_sends_spliced_bodies_with_their_length(tmp_path: Path, client_kind: str) -> None:
    from openai import AsyncOpenAI, OpenAI

    assert fast_json.install() and fast_json.installed()
    paths = _images(tmp_path)
    messages: Any = _messages([file_media.file_marker(p) for p in paths])
    with ScriptedOpenAIServer(chat=lambda body: "fine") as server:
        if client_kind == "async":
            async def ask() -> Any:
                client = AsyncOpenAI(base_url=server.base_url, api_key="local")
                try:
                    return await client.chat.completions.create(model="scripted", messages=messages)
                finally:
                    await client.close()

            reply = asyncio.run(ask())
        else:
            reply = OpenAI(base_url=server.base_url, api_key="local").chat.completions.create(
                model="scripted", messages=messages)
        request = server.requests[-1]
    assert reply.choices[0].message.content == "fine"
    raw = request["raw"]
    assert json.loads(raw) == {"messages": _messages([_uri(p) for p in paths]), "model": "scripted"}
    assert raw == client_dumps(json.loads(raw))  # the client's own spelling, byte for byte
    assert request["headers"]["Content-Length"] == str(len(raw))
    assert "Transfer-Encoding" not in request["headers"]
    file_media.ENCODED.release([str(p) for p in paths])


def test_inspect_sends_markers_as_images_and_batches_get_them_inlined(tmp_path: Path) -> None:
    from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig, get_model

    paths = _images(tmp_path)
    fast_json.install()
    seen: list[list[str]] = []
    with ScriptedOpenAIServer(chat=lambda body: "fine") as server:
        model = get_model("openai-api/local/scripted", base_url=server.base_url, api_key="local",
                          memoize=False)
        provider = model.api.generate

        async def record(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A002 - inspect's name
            seen.append([c.image for m in input for c in m.content if isinstance(c, ContentImage)])
            if kwargs["config"].batch:  # what inspect would write into a batch file: stop here
                return None
            return await provider(input, *args, **kwargs)

        model.api.generate = record  # type: ignore[method-assign]
        file_media.inline_at_the_boundary(model)
        assert file_media.splices_bodies(model.api)
        message = ChatMessageUser(content=[ContentImage(image=file_media.file_marker(paths[0])),
                                           ContentText(text="What is drawn?")])
        assert asyncio.run(model.generate([message])).completion == "fine"
        request = server.requests[-1]
        asyncio.run(model.api.generate(input=[message], tools=[], tool_choice="none",
                                       config=GenerateConfig(batch=True)))
    assert seen == [[file_media.file_marker(paths[0])], [_uri(paths[0])]]  # spliced later / inlined now
    assert request["body"]["messages"][0]["content"][0]["image_url"]["url"] == _uri(paths[0])
    assert request["headers"]["Content-Length"] == str(len(request["raw"]))
    file_media.ENCODED.release([str(p) for p in paths])
