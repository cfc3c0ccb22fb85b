"""orjson request bodies (mis._util.fast_json): the openai client's own bytes (floats aside), used by it."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import math
from typing import Any

import pydantic
import pytest
from openai._utils._json import openapi_dumps as client_dumps

from mis._util import fast_json
from mis.testing import ScriptedOpenAIServer


class Detail(enum.StrEnum):
    HIGH = "high"


class Schema(pydantic.BaseModel):
    name: str
    strict: bool | None = None


IMAGE = "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 40).decode()
WHEN = dt.datetime(2026, 12, 7, 12, 30, 1, 123456, tzinfo=dt.UTC)
BODIES: list[Any] = [
    {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": IMAGE, "detail": Detail.HIGH}},
        {"type": "text", "text": "h\u00e9 \u2028 \x01 \"quoted\" \\ back / slash \U0001f600"}]}],
     "temperature": 0.1, "top_p": 0.95, "max_tokens": 1024, "n": 1, "stream": False, "stop": None,
     "seed": 2**40},
    {"response_format": {"type": "json_schema", "json_schema": Schema(name="verdict")}, "when": WHEN,
     "naive": dt.datetime(2026, 1, 2, 3, 4, 5)},
    {1: "int key", "nested": [[], {}, [1.5, -0.0, 123456.789]], "empty": ""},
]


@pytest.mark.parametrize("body", BODIES)
def test_same_bytes_as_the_clients_own_encoder(body: Any) -> None:
    fast_json.install()
    assert fast_json.dumps(body) == client_dumps(body)


def test_exponent_floats_are_the_same_number_in_another_spelling() -> None:
    import json

    body = {"top_p": 1e-7, "big": 3e300, "tiny": 5e-324}
    assert json.loads(fast_json.dumps(body)) == json.loads(client_dumps(body)) == body


def test_values_the_client_refuses_are_refused_the_same_way() -> None:
    fast_json.install()
    for bad in ({"x": math.nan}, {"x": [math.inf]}, {"x": object()}, {"x": dt.date(2026, 12, 7)}):
        with pytest.raises((ValueError, TypeError)) as theirs:
            client_dumps(bad)
        with pytest.raises(type(theirs.value)):
            fast_json.dumps(bad)


def test_the_openai_client_sends_orjson_bodies_to_a_real_server() -> None:
    from openai import OpenAI, _base_client

    assert fast_json.install() and _base_client.openapi_dumps is fast_json.request_body
    with ScriptedOpenAIServer(chat=lambda body: "fine") as server:
        client = OpenAI(base_url=server.base_url, api_key="local")
        messages: Any = [{"role": "user", "content": "caf\u00e9 \u2028 line"}]
        reply = client.chat.completions.create(model="scripted", messages=messages, temperature=0.0)
        raw = server.requests[-1]["raw"]
    assert reply.choices[0].message.content == "fine"
    import json

    assert json.loads(raw) == {"messages": messages, "model": "scripted", "temperature": 0.0}
    assert raw == client_dumps(json.loads(raw))  # the client's key order and spelling, byte for byte
