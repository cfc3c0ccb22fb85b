"""Length check for exports: tokenize each chat with its images so truncation can be caught up front.

A multi-image model whose image tokens are cut by ``max_length`` fails (or silently misaligns
features) mid-training; counting with the real processor, images expanded, finds those samples first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mis.data._errors import DataError
from mis.data._schema import Sample

log = logging.getLogger(__name__)


def _processor(path: str | Path) -> Any:
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(str(path))
    except Exception as exc:  # noqa: BLE001 - many loader errors, one message
        raise DataError(f"--tokenizer {path}: cannot load a processor from it: {exc}") from exc
    if getattr(processor, "image_processor", None) is None:
        raise DataError(f"--tokenizer {path}: is a text-only tokenizer; pass the model folder with its "
                        "processor so image tokens are counted")
    return processor


def _image_token_ids(processor: Any) -> set[int]:
    ids = getattr(processor, "image_token_ids", None) or []
    single = getattr(processor, "image_token_id", None)
    return {i for i in [*ids, single] if isinstance(i, int)}


def chat_length(processor: Any, sample: Sample) -> tuple[int, int]:
    """(tokens of the chat with images expanded, index of the last image token or -1)."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in sample.images]
    content.append({"type": "text", "text": sample.question})
    chat: list[dict[str, Any]] = [{"role": "user", "content": content}]
    if sample.target:
        chat.append({"role": "assistant", "content": [{"type": "text", "text": sample.target}]})
    text = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=not sample.target)
    images = sample.open_images()
    encoded = processor(text=[text], images=[images] if images else None)
    ids = list(encoded["input_ids"][0])
    image_ids = _image_token_ids(processor)
    last = max((i for i, t in enumerate(ids) if t in image_ids), default=-1)
    return len(ids), last


def check_lengths(samples: Sequence[Sample], tokenizer: str | Path, max_length: int) -> None:
    """Raise DataError naming the first sample whose tokenized chat exceeds ``max_length``."""
    if max_length <= 0:
        raise DataError(f"--max-length must be positive, got {max_length}")
    processor = _processor(tokenizer)
    for sample in samples:
        n, last_image = chat_length(processor, sample)
        if n > max_length:
            cut = (f"image tokens run to position {last_image + 1}, so images would be cut"
                   if last_image >= max_length else "the text after the images would be cut")
            raise DataError(f"sample {sample.uid}: field 'images': the chat is {n} tokens with image tokens "
                            f"expanded, over --max-length {max_length} ({cut}); raise --max-length or "
                            "lower the image resolution")
    log.info("all %d samples fit in %d tokens", len(samples), max_length)
