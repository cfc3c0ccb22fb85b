"""Assistant-only loss mask and pre-training validation, on the real processors of every tiny arch."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mis.models.tiny import ARCHS
from mis.train import TrainDataError
from mis.train._collate import IGNORE, AssistantOnlyCollator
from mis.train._data import build_messages
from mis.train._label_check import label_problems
from tests.fixtures.data import make_png

TARGET = "The first image shows a red square; the second a blue circle. A safe answer: describe both."


def _row(tmp_path: Path, uid: str, n_images: int = 2, question: str = "How could these be combined?") -> dict:
    images = [
        str(make_png(tmp_path / f"{uid.replace('/', '_')}_{k}.png", 3, k)) for k in range(1, n_images + 1)
    ]
    return {"uid": uid, "images": images, "question": question, "target": TARGET, "source": "test"}


@pytest.mark.parametrize("arch", ARCHS)
def test_labels_are_exactly_the_answer_and_end_of_turn(arch: str, tiny_model_path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path(arch))
    collator = AssistantOnlyCollator(processor)
    rows = [_row(tmp_path, "train/1"), _row(tmp_path, "train/2", n_images=0, question="Only text here?")]
    batch = collator(rows)
    assert label_problems(collator, rows, batch) == []  # the same check the GPU run makes (perf/gpu_check.sh)


@pytest.mark.parametrize("arch", ["qwen2_vl", "idefics3"])
def test_label_check_catches_a_trained_question_and_image(arch: str, tiny_model_path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    collator = AssistantOnlyCollator(AutoProcessor.from_pretrained(tiny_model_path(arch)))
    rows = [_row(tmp_path, "train/1")]
    batch = collator(rows)
    batch["labels"] = batch["input_ids"].clone()  # everything trained: question, images, answer
    problems = label_problems(collator, rows, batch)
    assert any("not the answer" in p for p in problems)
    assert any("image tokens are trained" in p for p in problems)
    other = "qwen2_vl" if arch != "qwen2_vl" else "idefics3"  # labels where the checkpoint has none, or v.v.
    (problem,) = label_problems(collator, rows, collator(rows), model_type=other)
    assert f"not hfvlm's prompt for {other}" in problem


@pytest.mark.parametrize("arch", ["qwen2_vl", "idefics3"])
def test_image_tokens_past_max_length_name_the_sample(arch: str, tiny_model_path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path(arch))
    row = _row(tmp_path, "train/17")
    full = AssistantOnlyCollator(processor)([row])
    length = int(full["attention_mask"].sum())
    image_id = next(iter(AssistantOnlyCollator(processor).image_token_ids))
    last_image = int((full["input_ids"][0] == image_id).nonzero().max())
    with pytest.raises(TrainDataError, match=r"sample train/17: field 'images': image tokens .*max_length"):
        AssistantOnlyCollator(processor, max_length=last_image).validate([row])
    # Room for the images and part of the answer: the answer is cut, with a warning, not an error.
    cut = AssistantOnlyCollator(processor, max_length=length - 3)
    batch = cut([row])
    assert batch["input_ids"].shape[1] == length - 3 and batch["labels"].shape == batch["input_ids"].shape


def test_validate_reports_token_counts(tiny_model_path, tmp_path: Path, caplog) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path("qwen2_vl"))
    stats = AssistantOnlyCollator(processor).validate(
        [_row(tmp_path, "train/1"), _row(tmp_path, "train/2", 1)]
    )
    assert stats["samples"] == 2 and 0 < stats["answer_tokens"] < stats["tokens"]


def test_prefix_layouts_are_laid_out_per_family_and_inline_placeholders_stay() -> None:
    from mis.models import user_turn_layout

    row = {"uid": "train/1", "images": ["a", "b"], "question": "Why?", "target": "T",
           "user_turn": None}
    # images first (Qwen, LLaVA-OneVision, unknown families)
    stock = build_messages(row)[0]["content"]
    assert [b["type"] for b in stock] == ["image", "image", "text"] and stock[-1]["text"] == "Why?"
    # the authors' InternVL / Idefics3 labels
    labelled = build_messages(row, layout=user_turn_layout("idefics3"))[0]["content"]
    assert [b.get("text") for b in labelled] == ["Image-1: ", None, "\n\nImage-2: ", None, "\n\nWhy?"]
    # a turn whose images sit inside its text keeps them there, text as written
    inline = {**row, "user_turn": "Compare <image> with <image>: which is larger?"}
    content = build_messages(inline, layout=user_turn_layout("idefics3"))[0]["content"]
    assert [b.get("text") for b in content] == ["Compare ", None, " with ", None, ": which is larger?"]
    plain = build_messages(row, with_target=False)
    assert len(plain) == 1 and plain[0]["role"] == "user"


@pytest.mark.parametrize(("arch", "labelled"), [("idefics3", True), ("internvl", True), ("qwen2_vl", False)])
def test_training_prompt_is_the_evaluation_prompt(arch: str, labelled: bool, tiny_model_path) -> None:
    """The collator renders the user turn exactly as hfvlm prompts the same checkpoint."""
    import asyncio

    from inspect_ai.model import ChatMessageUser, ContentImage, ContentText
    from transformers import AutoProcessor

    from mis.models.hfvlm import HFVLMAPI
    from tests.models.test_hfvlm import _uri

    path = tiny_model_path(arch)
    collator = AssistantOnlyCollator(AutoProcessor.from_pretrained(path))
    assert collator.model_type == arch and collator.layout.labelled is labelled
    row = {"uid": "train/1", "images": ["a", "b"], "question": "Why?", "target": TARGET}
    rendered = collator.render(row)
    api = HFVLMAPI(str(path))
    prompt = asyncio.run(api.prompt_text([ChatMessageUser(content=[
        ContentImage(image=_uri("red")), ContentImage(image=_uri("blue")), ContentText(text="Why?")])]))
    assert rendered.startswith(prompt)  # same prompt, then the answer
    marker = "<IMG_CONTEXT>" if arch == "internvl" else "<image>"  # what each template writes for an image
    assert (f"Image-1: {marker}\n\nImage-2: {marker}\n\nWhy?" in rendered) is labelled


@pytest.mark.parametrize("arch", ARCHS)
def test_multi_turn_trains_every_answer_and_no_question(arch: str, tiny_model_path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path(arch))
    answers = ["A red square and a blue circle.", "The square is on the left.", "Both are flat shapes."]
    questions = ["<image>\n<image>\nWhat do you see?", "Which is on the left?", "What do they share?"]
    turns = [t for q, a in zip(questions, answers, strict=True)
             for t in ({"role": "user", "text": q}, {"role": "assistant", "text": a})]
    row = {**_row(tmp_path, "general/1"), "turns": turns, "target": answers[0]}
    batch = AssistantOnlyCollator(processor)([row])
    labels, ids = batch["labels"][0], batch["input_ids"][0]
    trained = processor.tokenizer.decode(ids[labels != IGNORE], skip_special_tokens=True)
    for answer in answers:
        assert answer in trained, (arch, trained)
    for question in ("What do you see?", *questions[1:]):
        assert question not in trained
    assert int((ids == next(iter(AssistantOnlyCollator(processor).image_token_ids))).sum()) > 0


def test_unreadable_image_names_the_sample(tiny_model_path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path("qwen2_vl"))
    row = _row(tmp_path, "train/5")
    Path(row["images"][1]).write_bytes(b"not a png")
    with pytest.raises(TrainDataError, match=r"sample train/5: field 'images': cannot open"):
        AssistantOnlyCollator(processor)([row])
    logging.getLogger().handlers.clear()
