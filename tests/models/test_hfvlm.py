"""hfvlm follows the paper's protocol by default: plain greedy, the family's prompt layout and settings."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
from pathlib import Path

import pytest
from inspect_ai.model import ChatMessageUser, ContentImage, ContentText, GenerateConfig
from PIL import Image

from mis.models import user_turn_layout
from mis.models.hfvlm import HFVLMAPI
from tests.models._chat import QUESTION

pytestmark = pytest.mark.slow

#: Sampling and penalty defaults a checkpoint may ship (Qwen2-VL's own file has repetition_penalty 1.05,
#: top_k 1, top_p 0.001, temperature 0.01); larger values here so a leak would surely change the tokens.
LEAKY_DEFAULTS = {"repetition_penalty": 1.8, "no_repeat_ngram_size": 2, "do_sample": True, "temperature": 0.7,
                  "top_k": 5, "top_p": 0.5}


def _uri(color: str, size: tuple[int, int] = (32, 32)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _two_image_turn(question: str = QUESTION) -> list[ChatMessageUser]:
    return [ChatMessageUser(content=[ContentImage(image=_uri("red")), ContentImage(image=_uri("blue")),
                                     ContentText(text=question)])]


def _with_generation_defaults(src: Path, dst: Path, values: dict) -> Path:
    shutil.copytree(src, dst)
    file = dst / "generation_config.json"
    file.write_text(json.dumps({**json.loads(file.read_text()), **values}))
    return dst


def _generate(api: HFVLMAPI, config: GenerateConfig) -> list[int]:
    """Generated token ids for the two-image turn (through the provider's own request path)."""
    import torch

    conversation = asyncio.run(api._conversation(_two_image_turn()))  # what generate() sends
    inputs = api.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="pt")
    with torch.inference_mode():
        pad = api.processor.tokenizer.pad_token_id
        out = api.model.generate(**inputs, **api.generate_kwargs(config), pad_token_id=pad)
    return out[0, inputs["input_ids"].shape[1]:].tolist()


@pytest.mark.parametrize("arch", ["qwen2_vl", "idefics3"])
def test_checkpoint_sampling_defaults_do_not_leak_into_greedy(arch, tiny_model_path, tmp_path) -> None:
    plain_path = tiny_model_path(arch)
    leaky_path = _with_generation_defaults(plain_path, tmp_path / "leaky", LEAKY_DEFAULTS)
    plain, leaky = HFVLMAPI(str(plain_path)), HFVLMAPI(str(leaky_path))
    config = GenerateConfig(max_tokens=24, temperature=0.0)

    expected = _generate(plain, config)
    assert _generate(leaky, config) == expected
    # and through inspect's generate(): the same text
    out_plain = asyncio.run(plain.generate(_two_image_turn(), [], "none", config))
    out_leaky = asyncio.run(leaky.generate(_two_image_turn(), [], "none", config))
    assert out_leaky.completion == out_plain.completion

    # The test can fail: the same checkpoint decoded by transformers' defaults does differ.
    import torch

    conversation = asyncio.run(leaky._conversation(_two_image_turn()))
    inputs = leaky.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True,
                                                 return_dict=True, return_tensors="pt")
    torch.manual_seed(0)
    leaked = leaky.model.generate(**inputs, max_new_tokens=24)[0, inputs["input_ids"].shape[1]:].tolist()
    assert leaked != expected

    # What was used is on record: every sampling/penalty option neutral, and what the checkpoint wanted.
    settings = leaky.settings(config)
    assert settings["generate_kwargs"]["do_sample"] is False
    assert settings["generate_kwargs"]["repetition_penalty"] == 1.0
    assert settings["generate_kwargs"]["no_repeat_ngram_size"] == 0
    assert settings["generate_kwargs"]["max_new_tokens"] == 24
    assert {"top_k", "top_p", "temperature"}.isdisjoint(settings["generate_kwargs"])  # None: not applied
    assert settings["ignored_checkpoint_defaults"] == LEAKY_DEFAULTS
    assert plain.ignored_checkpoint_defaults() == {}
    json.dumps(settings)  # recordable as is


def test_sampling_uses_only_what_was_asked(tiny_model_path) -> None:
    api = HFVLMAPI(str(tiny_model_path("qwen2_vl")))
    kwargs = api.generate_kwargs(GenerateConfig(temperature=0.7, top_p=0.9, max_tokens=5))
    assert kwargs["do_sample"] is True and kwargs["temperature"] == 0.7 and kwargs["top_p"] == 0.9
    assert kwargs["top_k"] is None and kwargs["repetition_penalty"] == 1.0


def test_idefics3_prompt_is_the_authors(tiny_model_path) -> None:
    """The authors' vLLM prompt for Idefics3, from `evaluation/inference_vllm.py`, built the same way."""
    api = HFVLMAPI(str(tiny_model_path("idefics3")))  # no family named: the model_type picks the preset
    assert api.preset is not None and api.preset.name == "idefics3" and api.layout.labelled
    question = "What could someone do with these two objects?"
    placeholders = "\n".join(f"Image-{i}: <image>\n" for i in (1, 2))
    authors = f"<|begin_of_text|>User:{placeholders}\n{question}<end_of_utterance>\nAssistant:"
    ours = asyncio.run(api.prompt_text(_two_image_turn(question)))
    # The only difference is Idefics3's stock chat template: "User: " (a space) when the turn starts with
    # text; the authors wrote the prompt string by hand. docs/models.md lists it.
    assert ours == authors.replace("User:", "User: ", 1)
    # and it generates (labels do not disturb the image-token bookkeeping)
    out = asyncio.run(api.generate(_two_image_turn(question), [], "none", GenerateConfig(max_tokens=3)))
    assert out.usage is not None and out.usage.output_tokens >= 1


def test_qwen_prompt_is_the_authors(tiny_model_path) -> None:
    """Qwen: structured (image, image, question) through its chat template, default system prompt included."""
    api = HFVLMAPI(str(tiny_model_path("qwen2_vl")))
    assert api.preset is not None and api.preset.name == "qwen2_vl" and not api.layout.labelled
    ours = asyncio.run(api.prompt_text(_two_image_turn("Q?")))
    vision = "<|vision_start|><|image_pad|><|vision_end|>"
    system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    assert ours == f"{system}<|im_start|>user\n{vision}{vision}Q?<|im_end|>\n<|im_start|>assistant\n"


def test_internvl_prompt_is_the_authors(tiny_model_path) -> None:
    """InternVL `-hf`: the authors' `Image-k: <image>` turn, with `<image>` rendered as `<IMG_CONTEXT>`."""
    api = HFVLMAPI(str(tiny_model_path("internvl")))
    assert api.preset is not None and api.preset.name == "internvl2_5"
    placeholders = "\n".join(f"Image-{i}: <image>\n" for i in (1, 2))
    authors_turn = f"{placeholders}\nQ?".replace("<image>", "<IMG_CONTEXT>")
    ours = asyncio.run(api.prompt_text(_two_image_turn("Q?")))
    # the -hf template writes "<IMG_CONTEXT>\n" per image block; the layout takes that newline into account
    assert ours == f"<|im_start|>user\n{authors_turn}<|im_end|>\n<|im_start|>assistant\n"
    out = asyncio.run(api.generate(_two_image_turn("Q?"), [], "none", GenerateConfig(max_tokens=3)))
    assert out.usage is not None and out.usage.output_tokens >= 1


def test_internvl_gets_the_authors_tile_limit(tiny_model_path, tmp_path) -> None:
    """InternVL `-hf` tiles each image into at most 4 patches (+ a thumbnail), not transformers' 12."""
    paper = tmp_path / "paper-like"  # the tiny weights without the tiny marker stand for a paper checkpoint
    shutil.copytree(tiny_model_path("internvl"), paper)
    config = json.loads((paper / "config.json").read_text())
    config.pop("mis_tiny_model")
    (paper / "config.json").write_text(json.dumps(config))
    wide = [ContentImage(image=_uri("red", (256, 64))), ContentImage(image=_uri("blue", (160, 96))),
            ContentText(text="Q?")]

    def tiles(api: HFVLMAPI) -> int:
        conversation = asyncio.run(api._conversation([ChatMessageUser(content=wide)]))
        batch = api.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True,
                                                  return_dict=True, return_tensors="pt")
        return int(batch["pixel_values"].shape[0])

    limited = HFVLMAPI(str(paper))
    assert limited.processor_kwargs == {"crop_to_patches": True, "max_patches": 4}
    stock = HFVLMAPI(str(paper), family="none")
    assert tiles(limited) <= 2 * (4 + 1) < tiles(stock)


def test_a_turn_already_laid_out_is_not_labelled_twice(tiny_model_path) -> None:
    api = HFVLMAPI(str(tiny_model_path("idefics3")))
    layout = user_turn_layout("idefics3")
    parts = layout.parts(2, "Q?")
    images = iter([_uri("red"), _uri("blue")])
    content = [ContentImage(image=next(images)) if isinstance(p, int) else ContentText(text=p) for p in parts]
    ours = asyncio.run(api.prompt_text([ChatMessageUser(content=content)]))
    assert ours.count("Image-1: ") == 1 and ours.count("Image-2: ") == 1


def test_family_none_is_stock_and_unknown_family_is_an_error(tiny_model_path) -> None:
    api = HFVLMAPI(str(tiny_model_path("idefics3")), family="none")
    assert api.preset is None and not api.layout.labelled
    assert "Image-1" not in asyncio.run(api.prompt_text(_two_image_turn()))
    with pytest.raises(ValueError, match="unknown family 'nope'; use auto, none or one of"):
        HFVLMAPI(str(tiny_model_path("idefics3")), family="nope")


def test_tiny_models_keep_their_processor_sizes_paper_checkpoints_get_presets(tiny_model_path, tmp_path):
    tiny = HFVLMAPI(str(tiny_model_path("qwen2_vl")))
    assert tiny.processor_kwargs == {}  # its 64-position context could not take the paper's pixel bounds
    # the same weights without the tiny marker stand for a paper checkpoint: the preset's bounds apply
    paper = tmp_path / "paper-like"
    shutil.copytree(tiny_model_path("qwen2_vl"), paper)
    config = json.loads((paper / "config.json").read_text())
    config.pop("mis_tiny_model")
    (paper / "config.json").write_text(json.dumps(config))
    api = HFVLMAPI(str(paper))
    assert api.processor_kwargs == {"min_pixels": 4 * 28 * 28, "max_pixels": 16384 * 28 * 28}
    size = api.processor.image_processor.size
    assert size == {"shortest_edge": 4 * 28 * 28, "longest_edge": 16384 * 28 * 28}
    # an explicit processor_kwargs model arg wins over the preset
    api = HFVLMAPI(str(paper), processor_kwargs={"max_pixels": 64 * 64})
    assert api.processor_kwargs["max_pixels"] == 64 * 64
