"""inspect chat messages -> transformers chat messages (structured blocks), laid out per family.

Image blocks keep their order; a multi-image user turn gets its family's layout (`TurnLayout`); literal
image markers in text are made inert so the processor never expands them without an image.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

from mis._util.file_media import marked_path
from mis.models._layout import STOCK_TURN, TURN_LAYOUT_KEY, TurnLayout

if TYPE_CHECKING:
    from inspect_ai.model import ChatMessage

__all__ = ["lay_out", "load_image", "neutralise", "reserved_markers", "to_hf_message"]


async def to_hf_message(message: ChatMessage) -> dict[str, Any]:
    """An inspect message as a transformers chat message with structured content blocks (order kept).

    A message whose metadata asks for the stock turn (`TURN_LAYOUT_KEY`) keeps that request under the same
    key, for `lay_out`; the processor's chat template ignores keys it does not know.
    """
    from inspect_ai.model import ContentImage, ContentText  # only this function needs inspect

    if isinstance(message.content, str):
        return {"role": message.role, "content": [{"type": "text", "text": message.content}]}
    stock = (message.metadata or {}).get(TURN_LAYOUT_KEY) == STOCK_TURN
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ContentText):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ContentImage):
            blocks.append({"type": "image", "image": load_image(part.image)})
        else:
            raise ValueError(f"hfvlm: unsupported content type {part.type!r} (text and images only)")
    return {"role": message.role, "content": blocks, **({TURN_LAYOUT_KEY: STOCK_TURN} if stock else {})}

def lay_out(message: dict[str, Any], layout: TurnLayout, image_suffix: str) -> dict[str, Any]:
    """A user turn of images then one question, relaid out with ``layout`` (labels around images).

    A turn that already has text before or between its images (a caller applied a layout itself, or a
    benchmark interleaves on purpose) is left as it is, so labels are never added twice; so is a turn whose
    benchmark asked for the stock turn (`TURN_LAYOUT_KEY`, every benchmark but MIS).
    """
    blocks = message["content"]
    if message.pop(TURN_LAYOUT_KEY, None) == STOCK_TURN or message["role"] != "user" or not layout.labelled:
        return message
    kinds = [b["type"] for b in blocks]
    n_images = kinds.count("image")
    if n_images < 2 or kinds != ["image"] * n_images + ["text"]:
        return message
    images = [b["image"] for b in blocks[:n_images]]
    return {**message, "content": layout.blocks(images, blocks[-1]["text"], image_suffix=image_suffix)}

def reserved_markers(processor: Any) -> dict[str, str]:
    """The processor's image/video marker strings, each mapped to an inert spelling.

    A literal marker such as ``<image>`` inside user text would be expanded by the processor into
    image tokens with no image behind them ("image features and image tokens do not match"), so text
    parts never carry them verbatim: ``<image>`` becomes ``[image]``.
    """
    names = ("image_token", "video_token", "fake_image_token", "global_image_tag", "vision_start_token",
             "vision_end_token", "image_start_token", "image_end_token")
    markers = {getattr(processor, n, None) for n in names} | {
        getattr(processor.tokenizer, n, None) for n in names}
    return {m: "[" + m.strip("<>|") + "]" for m in markers if isinstance(m, str) and m.strip()}

def neutralise(message: dict[str, Any], reserved: dict[str, str]) -> dict[str, Any]:
    """``message`` with reserved image markers in its text blocks replaced by inert text."""
    for block in message["content"]:
        if block["type"] == "text":
            for marker, inert in reserved.items():
                if marker in block["text"]:
                    block["text"] = block["text"].replace(marker, inert)
    return message

def load_image(ref: str) -> Any:
    """A PIL RGB image from a data URI or a local path (remote URLs are not fetched)."""
    from PIL import Image

    path = marked_path(ref)  # a run's file marker: the file itself (nothing was encoded)
    if path is not None:
        ref = path
    elif ref.startswith("data:"):
        data = base64.b64decode(ref.split(",", 1)[1])
        return Image.open(io.BytesIO(data)).convert("RGB")
    if ref.startswith(("http://", "https://")):
        raise ValueError(f"hfvlm: remote image URLs are not fetched: {ref[:80]}")
    with Image.open(ref) as im:
        return im.convert("RGB")
