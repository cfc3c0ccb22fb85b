"""Backend plug-ins: the OpenAI-compatible images API, and a custom world plugged in through the protocol."""

from __future__ import annotations

import io
import json

from PIL import Image

from mis.build import (
    Backends,
    BuildConfig,
    ExactChecker,
    ModelRequest,
    ProceduralRenderer,
    TextBackend,
    config_from_dict,
    read_manifest,
    register_text_backend,
    run_build,
)
from mis.data import validate

from .conftest import scripted_config, write_seeds


def _png(body):
    buf = io.BytesIO()
    colour = (200, 30, 30) if "square" in body["prompt"] else (30, 30, 200)
    Image.new("RGB", (64, 64), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_openai_images_backend(tmp_path, scripted_server, monkeypatch):
    server = scripted_server()
    server.images = _png
    seeds = write_seeds(tmp_path / "seeds.jsonl", 2)
    cfg = scripted_config(tmp_path, server, seeds, tmp_path / "out")
    cfg["t2i"] = {
        "backend": "openai",
        "model": "scripted-image",
        "base_url": server.base_url,
        "api_key_env": "SCRIPTED_API_KEY",
        "width": 64,
        "height": 64,
    }
    result = run_build(config_from_dict(cfg))
    assert result.status == "complete", result.message
    image_calls = [r["body"] for r in server.requests if r["path"].endswith("/images/generations")]
    assert image_calls and all(
        b["response_format"] == "b64_json" and b["size"] == "64x64" for b in image_calls
    )
    assert len(image_calls) == 2 * 4 + 2  # two objects per record, plus the refinement round of case-1
    assert validate(tmp_path / "out") == []
    assert read_manifest(tmp_path / "out").backends["t2i"]["name"] == "openai-images/scripted-image"


class ShoutingGenerator:
    """A tiny custom 'world' for the writing steps, as MIS-mini plugs in its own."""

    name = "custom/shouting"

    def __init__(self):
        from mis.build import TemplateGenerator

        self.inner = TemplateGenerator()
        self.steps: list[str] = []

    def settings(self):
        return {"version": 1}

    async def complete(self, request: ModelRequest) -> str:
        self.steps.append(request.step)
        reply = await self.inner.complete(request)
        if request.step == "refine":
            data = json.loads(reply)
            data["question"] = (
                data["question"]
                .upper()
                .replace("FIRST IMAGE", "first image")
                .replace("SECOND IMAGE", "second image")
            )
            return json.dumps(data)
        return reply


def factory(step, spec, config):
    return _SHARED


_SHARED = ShoutingGenerator()


def test_custom_backends_plug_in(tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl", 2)
    assert isinstance(_SHARED, TextBackend)
    register_text_backend("custom/shouting", factory)
    cfg = BuildConfig(seeds=[str(seeds)], out=str(tmp_path / "a"), text_model="custom/shouting")
    result = run_build(
        cfg, backends=Backends(image=ProceduralRenderer(flaw_every=0), text={"critic": ExactChecker()})
    )
    assert result.status == "complete"
    assert {"extract", "refine", "text_safety"} <= set(_SHARED.steps)
    manifest = read_manifest(tmp_path / "a")
    assert manifest.backends["refine"]["name"] == "custom/shouting"
    assert manifest.backends["t2i"]["settings"]["flaw_every"] == 0
    assert manifest.stages["render"]["in"] == manifest.stages["render"]["out"]
    # the same generator named as package.module:factory in a config
    cfg2 = BuildConfig(
        seeds=[str(seeds)], out=str(tmp_path / "b"), text_model="tests.build.test_backends:factory"
    )
    assert run_build(cfg2).final == result.final
