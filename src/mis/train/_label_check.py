"""What a correct assistant-only batch looks like, as a list of problems (empty = correct).

One check shared by the CPU tests (`tests/train/test_collate.py`, every tiny architecture) and the GPU
check (`perf/gpu_check.sh`, on the processor a real-size run trains with), so both assert the same thing:
the trained tokens are exactly each row's answer plus the template's end-of-turn marker; the question,
the images and the padding are masked; every image became image tokens, none of them trained; and the
images carry the `Image-k:` labels exactly when the model family's layout has them.
"""

from __future__ import annotations

from typing import Any

from mis.train._collate import IGNORE, AssistantOnlyCollator

__all__ = ["label_problems"]


def label_problems(collator: AssistantOnlyCollator, rows: list[dict[str, Any]], batch: dict[str, Any],
                   model_type: str | None = None) -> list[str]:
    """Every way ``batch`` (``collator(rows)``, single-turn rows) departs from assistant-only labels.

    ``model_type``: the checkpoint's ``config.model_type`` (what `hfvlm/` lays turns out by); default:
    the collator's own.
    """
    import torch

    model_type = model_type or collator.model_type

    tok = collator.tokenizer
    problems: list[str] = []
    if any(row["images"] for row in rows) and "pixel_values" not in batch:
        problems.append("batch: rows have images but the batch has no pixel_values")
    image_ids = torch.tensor(sorted(collator.image_token_ids), dtype=torch.long)
    for i, row in enumerate(rows):
        uid = row["uid"]
        labels, ids = batch["labels"][i], batch["input_ids"][i]  # (T,), (T,)
        trained = labels != IGNORE  # (T,)
        if not bool(trained.any()):
            problems.append(f"{uid}: no token is trained")
            continue
        text = tok.decode(ids[trained], skip_special_tokens=False).strip()
        target = row["target"].strip()
        if not text.startswith(target):
            problems.append(f"{uid}: the trained tokens are not the answer: {text[:80]!r}")
        else:
            rest = text[len(target):].strip()
            if not rest:
                problems.append(f"{uid}: no end-of-turn marker is trained after the answer")
            elif tok.decode(tok(rest, add_special_tokens=False)["input_ids"]).strip() != rest:
                problems.append(f"{uid}: what is trained after the answer ({rest!r}) is not whole tokens")
            elif "image" in rest.lower() or "user" in rest.lower():
                problems.append(f"{uid}: more than the end-of-turn marker is trained: {rest!r}")
        first = int(trained.nonzero()[0])
        if row["question"] not in tok.decode(ids[:first]):
            problems.append(f"{uid}: the question is not wholly before the first trained token (not masked)")
        n = int(batch["attention_mask"][i].sum())
        if bool(trained[n:].any()):
            problems.append(f"{uid}: padding is trained")
        is_image = torch.isin(ids, image_ids)  # (T,)
        if row["images"] and not bool(is_image.any()):
            problems.append(f"{uid}: {len(row['images'])} image(s) but no image token in the sequence")
        if bool((trained & is_image).any()):
            problems.append(f"{uid}: {int((trained & is_image).sum())} image tokens are trained")
        prompt = evaluation_prompt(collator.processor, model_type, len(row["images"]), row["question"])
        # through the question: what follows is the template's own (LLaVA-OneVision writes "assistant\n"
        # as the generation prompt but "assistant \n" before an answer)
        user_turn = prompt[: prompt.rindex(row["question"]) + len(row["question"])]
        if not collator.render(row).startswith(user_turn):
            labelled = "Image-1:" in prompt
            problems.append(f"{uid}: the training prompt is not hfvlm's prompt for {model_type} (which "
                            f"{'labels' if labelled else 'does not label'} the images Image-k)")
    return problems


def evaluation_prompt(processor: Any, model_type: str | None, n_images: int, question: str) -> str:
    """The prompt `hfvlm/` renders for one user turn of ``n_images`` images then ``question``."""
    from PIL import Image

    from mis.models import user_turn_layout
    from mis.models._layout import template_image_suffix
    from mis.models._messages import lay_out, neutralise, reserved_markers

    blocks: list[dict[str, Any]] = [{"type": "image", "image": Image.new("RGB", (8, 8))}] * n_images
    message = {"role": "user", "content": [*blocks, {"type": "text", "text": question}]}
    laid = lay_out(message, user_turn_layout(model_type), template_image_suffix(processor))
    return str(processor.apply_chat_template([neutralise(laid, reserved_markers(processor))],
                                             add_generation_prompt=True, tokenize=False))
