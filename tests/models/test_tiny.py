"""Tiny models of each real architecture: load offline, chat with two images, save/load exactly."""

from __future__ import annotations

import json

import pytest
import torch

from mis.models import ARCHS, TinySize, make_tiny_model, tiny_model_info
from mis.models.tiny import tokens_per_image
from tests.models._chat import chat_inputs, two_images

MODEL_CLASS = {
    "idefics3": "Idefics3ForConditionalGeneration",
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "llava_onevision": "LlavaOnevisionForConditionalGeneration",
    "internvl": "InternVLForConditionalGeneration",
}
PROCESSOR_CLASS = {
    "idefics3": "Idefics3Processor",
    "qwen2_vl": "Qwen2VLProcessor",
    "qwen2_5_vl": "Qwen2_5_VLProcessor",
    "llava_onevision": "LlavaOnevisionProcessor",
    "internvl": "InternVLProcessor",
}


@pytest.mark.parametrize("arch", ARCHS)
def test_loads_offline_generates_and_round_trips(arch, tiny_model_path, tmp_path, offline):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = tiny_model_path(arch)
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    assert type(model).__name__ == MODEL_CLASS[arch]
    assert type(processor).__name__ == PROCESSOR_CLASS[arch]
    info = tiny_model_info(path)
    assert info["arch"] == arch
    assert info["params"] == sum(p.numel() for p in model.parameters()) < 5_000_000

    gen = model.generation_config
    stops = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    assert processor.tokenizer.eos_token_id in stops
    assert gen.pad_token_id == processor.tokenizer.pad_token_id is not None

    batch = chat_inputs(processor)
    n_image_tokens = int((batch["input_ids"] == model.config.image_token_id).sum())
    if arch == "internvl":  # tiles: the non-square fixture image becomes several (+ a thumbnail)
        assert n_image_tokens == batch["pixel_values"].shape[0] * info["image_tokens_per_image"]
        square = chat_inputs(processor, [two_images()[0]] * 2)["input_ids"]
        assert int((square == model.config.image_token_id).sum()) == 2 * info["image_tokens_per_image"]
    else:
        assert n_image_tokens == 2 * info["image_tokens_per_image"]

    prompt_len = batch["input_ids"].shape[1]
    generated = model.generate(**batch, max_new_tokens=4, do_sample=False)
    new = generated[0, prompt_len:]
    assert 1 <= new.numel() <= 4
    assert isinstance(processor.decode(new, skip_special_tokens=True), str)
    again = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert torch.equal(generated, again)  # greedy decoding is deterministic

    with torch.no_grad():
        logits = model(**batch).logits
    model.save_pretrained(tmp_path / "copy")
    processor.save_pretrained(tmp_path / "copy")
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path / "copy").eval()
    batch2 = chat_inputs(AutoProcessor.from_pretrained(tmp_path / "copy"))
    assert torch.equal(batch["input_ids"], batch2["input_ids"])
    with torch.no_grad():
        assert torch.equal(logits, reloaded(**batch2).logits)


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    from safetensors.torch import load_file

    a = make_tiny_model(tmp_path / "a", "idefics3", seed=7)
    b = make_tiny_model(tmp_path / "b", "idefics3", seed=7)
    c = make_tiny_model(tmp_path / "c", "idefics3", seed=8)
    wa, wb, wc = (load_file(p / "model.safetensors") for p in (a, b, c))
    assert wa.keys() == wb.keys() == wc.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()


def test_mini_calibration_config(tmp_path):
    """The MIS-mini demo's model: Idefics3, 64 px, patch 8, pixel-shuffle 4 -> 4 tokens per image."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    size = TinySize(
        image_size=64,
        patch_size=8,
        merge=4,
        vision_hidden=32,
        vision_layers=2,
        text_hidden=64,
        text_layers=2,
        vocab_size=600,
    )
    corpus = ["The first image shows a crimson hexagon. The second image shows a teal lantern."] * 20
    path = make_tiny_model(tmp_path / "mini", "idefics3", seed=0, size=size, corpus=corpus)
    model = AutoModelForImageTextToText.from_pretrained(path)
    processor = AutoProcessor.from_pretrained(path)
    assert model.config.scale_factor == 4
    assert model.config.vision_config.image_size == 64 and model.config.vision_config.patch_size == 8
    assert processor.image_seq_len == 4 == tiny_model_info(path)["image_tokens_per_image"]
    assert processor.image_processor.do_image_splitting is False
    assert 450 <= len(processor.tokenizer) <= 600
    assert sum(p.numel() for p in model.parameters()) < 300_000

    batch = chat_inputs(processor, two_images(64))
    assert tuple(batch["pixel_values"].shape) == (1, 2, 3, 64, 64)
    assert int((batch["input_ids"] == model.config.image_token_id).sum()) == 8
    assert model.generate(**batch, max_new_tokens=2).shape[1] > batch["input_ids"].shape[1]


@pytest.mark.parametrize("colour", [(0, 0, 0), (127, 127, 127), (128, 128, 128), (255, 255, 255)])
def test_blank_images_are_not_idefics3_padding(colour, tiny_model_path):
    """Idefics3 drops images whose processed pixels are all 0; no blank 8-bit colour may map there."""
    from PIL import Image
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path("idefics3"))
    pixels = processor.image_processor(images=[Image.new("RGB", (32, 32), colour)], return_tensors="pt")
    assert not bool((pixels["pixel_values"] == 0).all())


def test_size_validation_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="image_size=30 must be a multiple of patch_size=8"):
        make_tiny_model(tmp_path / "x", "qwen2_vl", size=TinySize(image_size=30))
    with pytest.raises(ValueError, match="merge=3"):
        make_tiny_model(tmp_path / "x", "idefics3", size=TinySize(merge=3))
    with pytest.raises(ValueError, match="unknown arch 'llama'"):
        make_tiny_model(tmp_path / "x", "llama")
    assert not (tmp_path / "x").exists()


def test_info_file_describes_the_build(tiny_model_path):
    path = tiny_model_path("qwen2_vl")
    info = json.loads((path / "tiny_model.json").read_text())
    assert info["size"]["image_size"] == TinySize().image_size
    assert info["image_tokens_per_image"] == tokens_per_image(TinySize(), "qwen2_vl") == 4


def test_models_package_has_no_import_cycle() -> None:
    """Imports inside mis.models form no cycle (issue 10: tiny <-> _tiny_archs)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "src"
    graph: dict[str, set[str]] = {}
    for file in (root / "mis/models").rglob("*.py"):
        module = ".".join(file.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(file.read_text())
        graph[module] = {  # function-level imports count too: they close a cycle when they run
            node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mis.models")
        }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    assert "mis.models.tiny._archs" in graph and "mis.models.tiny._sizes" in graph
    cyclic = sorted(m for m in graph if reaches(m, m, {m}))
    assert cyclic == []
