"""End to end: scripted LLM/VLM over HTTP + a tiny real SD3 diffusers pipeline -> a valid MIS dataset."""

from __future__ import annotations

import json

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from mis.build import read_manifest
from mis.cli import app
from mis.data import load, validate
from mis.testing._openai_server import count_images

from .conftest import scripted_config, step_of, write_seeds


@pytest.mark.slow
def test_build_with_scripted_models_and_tiny_sd3(tmp_path, scripted_server, tiny_sd3):
    server = scripted_server()
    seeds = write_seeds(tmp_path / "seeds.jsonl", 3)
    out = tmp_path / "out"
    cfg = scripted_config(tmp_path, server, seeds, out)
    cfg["t2i"] = {
        "backend": "diffusers",
        "model": str(tiny_sd3),
        "steps": 2,
        "guidance": 3.0,
        "width": 64,
        "height": 64,
        "seed": 7,
        "device": "cpu",
        "load_kwargs": {"text_encoder_3": None, "tokenizer_3": None},
    }
    (tmp_path / "build.yaml").write_text(yaml.safe_dump(cfg))

    result = CliRunner().invoke(
        app, ["build", "run", "--config", str(tmp_path / "build.yaml"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "label" in result.output and "complete" in result.output  # the counts table

    assert validate(out) == []
    manifest = read_manifest(out)
    ds = load(out)
    per_split = {s: len(ds.split(s)) for s in ("train", "easy", "hard")}
    assert per_split == manifest.final
    assert per_split == {"train": 3, "easy": 1, "hard": 2}  # case-2 -> warning sign (easy)
    for split in ("train", "easy", "hard"):
        assert len(json.loads((out / f"mis_{split}.json").read_text())) == per_split[split]
    assert manifest.stages["label"]["out"] == sum(per_split.values())
    assert manifest.stages["extract"] == {**manifest.stages["extract"], "in": 3, "out": 6, "dropped": 0}
    # images really came from the diffusers pipeline, with its settings recorded
    assert manifest.backends["t2i"]["name"] == f"diffusers/{tiny_sd3}"
    assert (
        manifest.backends["t2i"]["settings"]["steps"] == 2
        and manifest.backends["t2i"]["settings"]["seed"] == 7
    )
    for sample in ds:
        assert [im.size for im in sample.open_images()] == [(64, 64), (64, 64)]
        seeds_ = sample.metadata["t2i_seeds"]
        assert len(set(seeds_)) == 2 and all(s >= 7 for s in seeds_)  # per-image seeds recorded
        assert all(p.startswith("a ") for p in sample.metadata["t2i_prompts"])
        assert "the object in the first image" in sample.question.lower()
    assert all(s.target and "first image" in s.target for s in ds.split("train"))
    assert all(s.target is None for s in ds.split("easy") + ds.split("hard"))
    # one refinement round for case-1: the critic was asked twice for those records
    steps = [
        step_of(
            json.dumps(b)
            and "\n".join(
                p.get("text", "")
                for m in b["messages"]
                for p in (m["content"] if isinstance(m["content"], list) else [])
            )
        )
        for b in server.chat_requests()
    ]
    assert steps.count("critic") == 6 + 2
    assert all(
        count_images(b) == 2 for b in server.chat_requests() if "TASK: safety reasoning" in json.dumps(b)
    )
    # prompt hashes of every step are recorded
    assert set(manifest.prompts) >= {
        "extract",
        "refine",
        "render",
        "critic",
        "text_safety",
        "label",
        "label_judge",
    }
    assert all(len(p["sha256"]) == 64 for p in manifest.prompts.values())
    # the refined image of case-1 exists beside the first render (one refinement round)
    refined = [p for p in (out / "images").rglob("object1-r1-*.png")]
    assert len(refined) == 2 and Image.open(refined[0]).size == (64, 64)
