"""Presets and user-turn layouts reproduce the authors' per-family prompts and settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mis.models import PRESETS, preset_for, user_turn_layout
from mis.models.presets import QWEN_MAX_PIXELS, QWEN_MIN_PIXELS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def authors_labelled_turn(question: str, n: int = 2) -> str:
    """The InternVL / Idefics3 user turn exactly as `evaluation/inference_vllm.py` builds it."""
    placeholders = "\n".join(f"Image-{i}: <image>\n" for i in range(1, n + 1))
    return f"{placeholders}\n{question}"


@pytest.mark.parametrize("model_type", ["internvl", "internvl_chat", "idefics3", "internvl2_5"])
def test_internvl_and_idefics3_get_the_authors_labels(model_type: str) -> None:
    layout = user_turn_layout(model_type)
    assert layout.text(2, "Why?") == authors_labelled_turn("Why?")
    assert layout.text(3, "Why?") == authors_labelled_turn("Why?", 3)
    assert layout.parts(2, "Why?") == ["Image-1: ", 0, "\n\nImage-2: ", 1, "\n\nWhy?"]


@pytest.mark.parametrize(
    "model_type", ["qwen2_vl", "qwen2_5_vl", "llava_onevision", "phi3_v", "gemma3", None]
)
def test_other_families_get_images_first(model_type: str | None) -> None:
    layout = user_turn_layout(model_type)
    assert not layout.labelled
    assert layout.parts(2, "Why?") == [0, 1, "Why?"]
    assert layout.text(2, "Why?") == "<image>\n<image>\nWhy?"  # what vLLM prepends when the text has none


def test_one_image_is_never_labelled() -> None:
    assert user_turn_layout("internvl").parts(1, "Q") == [0, "Q"]
    assert user_turn_layout("internvl").text(1, "Q") == "<image>\nQ"


def test_blocks_account_for_what_the_template_writes_after_an_image() -> None:
    """InternVL's `-hf` template renders an image as "<IMG_CONTEXT>\\n": the next text loses one newline."""
    layout = user_turn_layout("internvl")
    blocks = layout.blocks(["A", "B"], "Q", image_suffix="\n")
    rendered = "".join(b["text"] if b["type"] == "text" else "<IMG_CONTEXT>\n" for b in blocks)
    assert rendered == authors_labelled_turn("Q").replace("<image>\n", "<IMG_CONTEXT>\n")
    assert [b.get("image") for b in blocks if b["type"] == "image"] == ["A", "B"]
    plain = layout.blocks(["A", "B"], "Q")
    rendered = "".join(b["text"] if b["type"] == "text" else "<image>" for b in plain)
    assert rendered == authors_labelled_turn("Q")


def test_presets_by_type_and_name() -> None:
    assert preset_for("internvl") is PRESETS["internvl2_5"] is preset_for("internvl2_5")
    assert preset_for("qwen2_vl") is PRESETS["qwen2_vl"]
    assert preset_for("llama") is None and preset_for(None) is None


def test_settings_are_what_reached_the_authors_models() -> None:
    internvl = PRESETS["internvl2_5"]
    assert internvl.vllm_processor_kwargs == {"max_dynamic_patch": 4}
    assert internvl.hf_processor_kwargs == {"crop_to_patches": True, "max_patches": 4}  # -hf names, not 12
    # Qwen: qwen_vl_utils' resize bounds (the 256..1280 x 28 x 28 in the script only reached the text)
    bounds = {"min_pixels": QWEN_MIN_PIXELS, "max_pixels": QWEN_MAX_PIXELS}
    assert PRESETS["qwen2_vl"].hf_processor_kwargs == bounds == PRESETS["qwen2_vl"].vllm_processor_kwargs
    assert (QWEN_MIN_PIXELS, QWEN_MAX_PIXELS) == (4 * 28 * 28, 16384 * 28 * 28)
    assert PRESETS["idefics3"].vllm_processor_kwargs == {"size": {"longest_edge": 4 * 364}}
    for preset in PRESETS.values():
        args = preset.vllm_serve_args()
        # plain greedy: the server must not add the checkpoint's repetition penalty to greedy requests
        assert args[args.index("--override-generation-config") + 1] == '{"repetition_penalty":1.0}'
        assert args[args.index("--limit-mm-per-prompt") + 1] == '{"image":2}'


def test_models_page_matches_the_presets() -> None:
    text = (DOCS / "models.md").read_text()
    serve_lines = [line for line in text.splitlines() if line.startswith("vllm serve ")]
    for name, preset in PRESETS.items():
        assert f"### {name}\n" in text
        assert preset.vllm_serve_command() in serve_lines, name
        if preset.hfvlm:
            assert f"--model hfvlm/{preset.models[0]}" in text
    for line in serve_lines:
        assert """--limit-mm-per-prompt '{"image":2}'""" in line
    assert PRESETS["internvl2_5"].vllm_serve_command("Tuwhy/InternVL2.5-8B-MIRage") in serve_lines
    assert "hfvlm/Tuwhy/Qwen2-VL-7B-MIRage" in text
    assert "--model-arg family=" not in text.split("## `hfvlm/` model args")[0]  # no family needed any more
    assert re.search(r"^## Tiny models", text, re.M)
    assert "user_turn_layout" in text


def test_models_page_layout_snippet_runs_and_its_comments_hold() -> None:
    import ast

    section = (DOCS / "models.md").read_text().split("## The authors' protocol, per family", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    checked = 0
    for line in code.splitlines():
        statement, _, comment = line.partition("  # ")
        if not statement.strip():
            continue
        if statement.startswith(("from ", "layout =")):
            exec(statement, namespace)  # noqa: S102 - the documented snippet, verbatim
            continue
        value = eval(statement, namespace)  # noqa: S307 - the documented snippet, verbatim
        expected = comment.split(":", 1)[0] if comment.startswith("[") and "]:" in comment else comment
        assert value == ast.literal_eval(expected.strip()), line
        checked += 1
    assert checked == 3
