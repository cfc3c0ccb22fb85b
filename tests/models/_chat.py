"""A two-image chat in MIS's layout (image, image, text) for the tiny-model tests."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw

QUESTION = "How could the object in the first image be combined with the object in the second image?"


def two_images(side: int = 32) -> list[Image.Image]:
    """A red square and a blue circle, the mild synthetic pair every fixture uses."""
    square = Image.new("RGB", (side, side), "white")
    ImageDraw.Draw(square).rectangle([side // 4, side // 4, 3 * side // 4, 3 * side // 4], fill="red")
    circle = Image.new("RGB", (side + 8, side), "white")  # not square on purpose: processors must resize
    ImageDraw.Draw(circle).ellipse([side // 4, side // 4, 3 * side // 4, 3 * side // 4], fill="blue")
    return [square, circle]


def two_image_chat(images: list[Image.Image], question: str = QUESTION) -> list[dict[str, Any]]:
    """Structured content blocks: images first, then the question (MIS's Image-1, Image-2, text)."""
    content: list[dict[str, Any]] = [{"type": "image", "image": im} for im in images]
    content.append({"type": "text", "text": question})
    return [{"role": "user", "content": content}]


def chat_inputs(processor: Any, images: list[Image.Image] | None = None) -> Any:
    """Tokenised two-image chat with pixel values, ready for `model(**batch)` / `model.generate`."""
    messages = two_image_chat(images or two_images())
    return processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
