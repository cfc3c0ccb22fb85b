r"""How a multi-image user turn is laid out for one model family (the authors' per-family prompts).

The authors' inference script (GitHub `DripNowhy/MIS`, `evaluation/inference_vllm.py`) sends each family
its own user turn. InternVL2.5 and Idefics3 get a label before each image,

    placeholders = "\n".join(f"Image-{i}: <image>\n" for i in (1, 2))
    user_turn = f"{placeholders}\n{question}"
    # -> "Image-1: <image>\n\nImage-2: <image>\n\n{question}"

while Qwen2-VL gets structured content (image, image, question) through its own chat template (which adds
its default system prompt), and Phi-3.5-vision / LLaVA get the images first, unlabelled. A `TurnLayout`
states that in one place, so `hfvlm`, the eval sample conversion (served models) and the training data
lay a turn out the same way. One image (other benchmarks) is never labelled: InternVL's own convention
labels images only when there are several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AUTHORS_LABELLED", "STOCK", "STOCK_TURN", "TURN_LAYOUT_KEY", "TurnLayout",
           "template_image_suffix"]

#: The explicit image placeholder of InternVL / Idefics3 prompts and of ShareGPT training records.
PLACEHOLDER = "<image>"

#: Message metadata key (and its value) by which a benchmark's sample asks an in-process model (`hfvlm`)
#: for the stock turn, images then the text, whatever the model's family: the authors labelled images for
#: MIS only, and a served model gets the family layout only where the benchmark asks for it
#: (`Benchmark.family_layout`), so an in-process model must not add labels elsewhere either.
TURN_LAYOUT_KEY = "mis_turn_layout"
STOCK_TURN = "stock"


@dataclass(frozen=True)
class TurnLayout:
    """Text around each image block of a multi-image user turn, then the question.

    For image k (1-based) of n: ``image_prefix.format(k=k)`` + image + ``image_suffix``; the groups are
    joined by ``separator``; ``before_question`` sits between the last group and the question.
    """

    name: str
    """`labelled` (the authors' `Image-k:` labels) or `stock` (images first, then the question)."""
    image_prefix: str = ""
    image_suffix: str = ""
    separator: str = ""
    before_question: str = ""
    source: str = ""
    """Where the layout comes from (the authors' script line it reproduces)."""

    @property
    def labelled(self) -> bool:
        """Whether images get text labels (else: image blocks, then the question)."""
        return bool(self.image_prefix or self.image_suffix or self.separator or self.before_question)

    def parts(self, n_images: int, question: str) -> list[str | int]:
        """The turn in order: ``int`` = image index (0-based), ``str`` = text (adjacent texts merged).

        One image, or a stock layout: the images, then the question.
        """
        if n_images < 2 or not self.labelled:
            return [*range(n_images), question]
        out: list[str | int] = []
        for k in range(n_images):
            if k:
                _text(out, self.image_suffix + self.separator)
            _text(out, self.image_prefix.format(k=k + 1))
            out.append(k)
        _text(out, self.image_suffix + self.before_question + question)
        return out

    def blocks(self, images: Sequence[Any], question: str, *, image_suffix: str = "") -> list[dict[str, Any]]:
        r"""Structured content blocks (transformers chat format) for ``images`` and ``question``.

        ``image_suffix`` is text the chat template itself writes after every image block (InternVL's
        `-hf` template writes ``"<IMG_CONTEXT>\n"``; see `template_image_suffix`): it is taken off the
        start of the text that follows each image, so the rendered prompt equals `text` exactly.
        ``images`` may hold ``None`` for image blocks without pixels (training renders the text first).
        """
        blocks: list[dict[str, Any]] = []
        after_image = False
        for part in self.parts(len(images), question):
            if isinstance(part, int):
                image = images[part]
                blocks.append({"type": "image"} if image is None else {"type": "image", "image": image})
                after_image = True
                continue
            text = part
            if after_image and image_suffix and text.startswith(image_suffix):
                text = text[len(image_suffix):]
            after_image = False
            if text:
                blocks.append({"type": "text", "text": text})
        return blocks

    def text(self, n_images: int, question: str, placeholder: str = PLACEHOLDER) -> str:
        """The turn as one string with ``placeholder`` for each image.

        For servers that read placeholders in the text (vLLM keeps a placeholder it finds in the prompt
        and only prepends missing ones) and for ShareGPT training records. A stock layout puts one
        placeholder per line before the question (what vLLM does when the text has none).
        """
        if n_images < 2 or not self.labelled:
            return "".join(f"{placeholder}\n" for _ in range(n_images)) + question
        return "".join(placeholder if isinstance(p, int) else p for p in self.parts(n_images, question))


def _text(out: list[str | int], text: str) -> None:
    if not text:
        return
    if out and isinstance(out[-1], str):
        out[-1] += text
    else:
        out.append(text)


#: Images first, then the question: what Qwen2-VL's structured content, Phi-3.5-vision's and LLaVA's
#: prompts give (no text labels).
STOCK = TurnLayout("stock", source="inference_vllm.py: Qwen [image, image, text]; Phi <|image_k|> lines")

#: The authors' InternVL2.5 / Idefics3 turn: "Image-1: <image>\n\nImage-2: <image>\n\n{question}".
AUTHORS_LABELLED = TurnLayout(
    "labelled",
    image_prefix="Image-{k}: ",
    image_suffix="\n",
    separator="\n",
    before_question="\n",
    source='inference_vllm.py: "\\n".join(f"Image-{i}: <image>\\n" ...) + "\\n" + query',
)


def template_image_suffix(processor: Any) -> str:
    r"""Whitespace the processor's chat template writes right after an image block ('' for most).

    Rendered once from a probe chat (``"A" image "B"``): InternVL's `-hf` template writes
    ``"<IMG_CONTEXT>\n"`` for an image, Qwen's ``"<|vision_start|><|image_pad|><|vision_end|>"``,
    Idefics3's ``"<image>"``. Only a whitespace tail counts; anything else is the marker itself.
    """
    probe = [{"role": "user", "content": [{"type": "text", "text": "\x01A"}, {"type": "image"},
                                          {"type": "text", "text": "B\x02"}]}]
    try:
        rendered = processor.apply_chat_template(probe, tokenize=False)
    except Exception:  # noqa: BLE001 - a template without image support has no suffix to remove
        return ""
    if "\x01A" not in rendered or "B\x02" not in rendered:
        return ""
    between = rendered.split("\x01A", 1)[1].split("B\x02", 1)[0]
    if not between.strip():  # the template moved the image elsewhere (LLaVA-OneVision: images first)
        return ""
    return between[len(between.rstrip()):]
