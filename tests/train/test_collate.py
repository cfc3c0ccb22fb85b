"""Assistant-only loss mask and pre-training validation, on the real processors of every tiny arch."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mis.models.tiny import ARCHS
from mis.train import TrainDataError
from mis.train._collate import IGNORE, AssistantOnlyCollator
from mis.train._data import build_messages
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
    tok = processor.tokenizer
    for i in range(2):
        labels = batch["labels"][i]
        trained = batch["input_ids"][i][labels != IGNORE]
        text = tok.decode(trained, skip_special_tokens=False)
        assert text.strip().startswith(TARGET), (arch, text)
        rest = text.strip()[len(TARGET) :]
        assert rest and tok.decode(tok(rest, add_special_tokens=False)["input_ids"]).strip() == rest.strip()
        assert "image" not in rest.lower() and "user" not in rest.lower(), rest  # only the end-of-turn marker
        first = int((labels != IGNORE).nonzero()[0])
        prompt = tok.decode(batch["input_ids"][i][:first])
        assert rows[i]["question"] in prompt  # everything before the answer (question, images) is masked
        n = int(batch["attention_mask"][i].sum())
        assert (labels[n:] == IGNORE).all()  # padding is never trained
        assert (labels[first : n - 2] != IGNORE).sum() > 0
    assert "pixel_values" in batch


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


def test_placeholders_interleave_images_and_text() -> None:
    row = {
        "uid": "train/1",
        "images": ["a", "b"],
        "question": "Image-1: <image>\nImage-2: <image>\nWhy?",
        "target": "T",
    }
    user = build_messages(row)[0]["content"]
    assert [b["type"] for b in user] == ["text", "image", "text", "image", "text"]
    assert [b.get("text") for b in user] == ["Image-1:", None, "Image-2:", None, "Why?"]
    plain = build_messages({**row, "question": "Why?"}, with_target=False)
    assert [b["type"] for b in plain[0]["content"]] == ["image", "image", "text"] and len(plain) == 1


def test_unreadable_image_names_the_sample(tiny_model_path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path("qwen2_vl"))
    row = _row(tmp_path, "train/5")
    Path(row["images"][1]).write_bytes(b"not a png")
    with pytest.raises(TrainDataError, match=r"sample train/5: field 'images': cannot open"):
        AssistantOnlyCollator(processor)([row])
    logging.getLogger().handlers.clear()
