"""Tiny random-init VLMs of real architectures, built offline, for tests and the CPU demo.

A tiny model is the real `*ForConditionalGeneration` class of its family built from a config (random
weights under a seed), a byte-level BPE tokenizer trained locally that carries the family's special
tokens and stock chat template, and the family's stock processor configured to agree with the model
(image token ids, patch sizes, image size, tokens per image). The output folder loads with
`AutoModelForImageTextToText.from_pretrained(out)` and `AutoProcessor.from_pretrained(out)` with the hub
offline, so every test and smoke run uses the same code paths as a full-size checkpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["ARCHS", "INFO_FILE", "TinySize", "make_tiny_model", "tiny_model_info", "with_sizes"]

log = logging.getLogger(__name__)

ARCHS = ("idefics3", "qwen2_vl", "qwen2_5_vl", "llava_onevision")
INFO_FILE = "tiny_model.json"


@dataclass(frozen=True)
class TinySize:
    """Sizes of a tiny model; the defaults give well under 1M parameters and build in about a second.

    `merge` shrinks each side of the vision patch grid before the language model sees it: Idefics3's
    pixel-shuffle `scale_factor`, Qwen2-VL's `spatial_merge_size`. LLaVA-OneVision has no such knob
    (every patch is a token), so it ignores `merge`. For Idefics3 and Qwen2-VL the number of image
    tokens per (square, `image_size`-sided) image is `(image_size // patch_size) ** 2 // merge ** 2`.
    """

    text_hidden: int = 64
    """Language model hidden size."""
    text_layers: int = 2
    """Language model decoder layers."""
    text_heads: int = 2
    """Attention heads in the language model (key/value heads are the same number)."""
    text_intermediate: int = 128
    """Language model MLP width."""
    vision_hidden: int = 32
    """Vision encoder hidden size."""
    vision_layers: int = 2
    """Vision encoder layers."""
    vision_heads: int = 2
    """Vision encoder attention heads."""
    vision_intermediate: int = 64
    """Vision encoder MLP width (Qwen2-VL derives it as 4 x hidden)."""
    patch_size: int = 8
    """Side of one vision patch, in pixels."""
    image_size: int = 32
    """Side of the square image the processor resizes to, in pixels."""
    merge: int = 2
    """Grid reduction per side between vision patches and image tokens (see class docstring)."""
    vocab_size: int = 1024
    """Target BPE vocabulary size, special tokens included (the corpus may yield fewer)."""
    max_positions: int = 4096
    """Maximum sequence length of the language model."""

    def validate(self, arch: str) -> None:
        """Reject combinations the architecture cannot build, naming the field and the fix."""
        for name, value in asdict(self).items():
            if value <= 0:
                raise ValueError(f"TinySize.{name} must be positive, got {value}")
        if self.text_hidden % self.text_heads:
            raise ValueError(
                f"text_hidden={self.text_hidden} must be divisible by text_heads={self.text_heads}"
            )
        if self.vision_hidden % self.vision_heads:
            raise ValueError(
                f"vision_hidden={self.vision_hidden} must be divisible by vision_heads={self.vision_heads}"
            )
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size={self.image_size} must be a multiple of patch_size={self.patch_size}"
            )
        side = self.image_size // self.patch_size
        if arch != "llava_onevision" and side % self.merge:
            raise ValueError(
                f"image_size/patch_size={side} patches per side must be divisible by "
                f"merge={self.merge} for {arch}"
            )
        if arch in ("qwen2_vl", "qwen2_5_vl") and (self.text_hidden // self.text_heads) % 4:
            raise ValueError(
                f"{arch} splits each text head's rotary dims in 3 sections: text_hidden/text_heads="
                f"{self.text_hidden // self.text_heads} must be a multiple of 4"
            )

    def tokens_per_image(self, arch: str) -> int:
        """Image tokens the language model sees for one square `image_size` image."""
        from mis.models._tiny_archs import FAMILIES

        return FAMILIES[arch].tokens_per_image(self)


def make_tiny_model(
    out: str | Path,
    arch: str = "idefics3",
    *,
    seed: int = 0,
    size: TinySize | None = None,
    corpus: Iterable[str] | None = None,
) -> Path:
    """Build and save a random-init model of `arch` with a local tokenizer and the stock processor.

    The same `seed`, `size` and `corpus` give the same tokenizer and bit-identical weights. `corpus`
    (lines of text) is added to the built-in corpus the tokenizer is trained on, so a demo world can
    get short token sequences for its own words. Returns `out`.

    Idefics3 pitfall: the model treats an image whose processed pixel values are all exactly 0 as
    padding and drops it, then fails with "Image features and image tokens do not match". With the
    processor saved here (rescale 1/255, mean = std = 0.5) no 8-bit colour normalises to exactly 0
    (black -> -1, mid-grey 127/128 -> -/+1/255, white -> 1), but a processor with `do_normalize=False`
    maps a black image to all zeros, as does an all-zero tensor passed as already-processed pixels.
    Check what a blank control image normalises to before using it.
    """
    import torch
    from transformers import GenerationConfig

    from mis.models._tiny_archs import FAMILIES
    from mis.models._tiny_tokenizer import train_tokenizer

    if arch not in FAMILIES:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    size = size or TinySize()
    size.validate(arch)
    family = FAMILIES[arch]
    out = Path(out)

    tokenizer = train_tokenizer(
        vocab_size=size.vocab_size,
        special_tokens=family.special_tokens,
        named_tokens=family.named_tokens,
        corpus=corpus,
    )
    chat_template = family.chat_template()
    processor = family.make_processor(size, tokenizer, chat_template)
    tokenizer = processor.tokenizer  # a processor may add tokens (Idefics3 does); ids are final now
    config = family.make_config(size, tokenizer)

    model_cls = family.model_class()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    model.eval()

    stop_ids = [tokenizer.convert_tokens_to_ids(t) for t in family.stop_tokens]
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=stop_ids if len(stop_ids) > 1 else stop_ids[0],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    tokens = _probe_tokens_per_image(processor, config.image_token_id, size.image_size)
    expected = family.tokens_per_image(size)
    if tokens != expected:  # model and processor must agree; never ship a mismatch
        raise RuntimeError(f"{arch}: processor gives {tokens} image tokens per image, expected {expected}")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    info = {
        "arch": arch,
        "seed": seed,
        "size": asdict(size),
        "params": sum(p.numel() for p in model.parameters()),
        "vocab": len(tokenizer),
        "image_tokens_per_image": tokens,
        "path": str(out),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log.info("tiny %s model: %d parameters, vocab %d -> %s", arch, info["params"], info["vocab"], out)
    return out


def tiny_model_info(path: str | Path) -> dict[str, Any]:
    """The summary `make_tiny_model` saved beside the model (arch, seed, sizes, params, vocab, tokens)."""
    file = Path(path) / INFO_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found: {path} was not made by make_tiny_model")
    return json.loads(file.read_text(encoding="utf-8"))


def _probe_tokens_per_image(processor: Any, image_token_id: int, side: int) -> int:
    """Image tokens per image in a real two-image chat (the layout MIS uses) through the processor."""
    from PIL import Image

    images = [Image.new("RGB", (side, side), (255, 0, 0)), Image.new("RGB", (side, side), (0, 0, 255))]
    content = [{"type": "image", "image": im} for im in images] + [{"type": "text", "text": "Compare."}]
    batch = processor.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=True, return_dict=True
    )
    return sum(1 for t in batch["input_ids"][0] if t == image_token_id) // len(images)


def with_sizes(size: TinySize | None, **overrides: Any) -> TinySize:
    """`size` (or the defaults) with the non-None `overrides` applied (used by the CLI)."""
    return replace(size or TinySize(), **{k: v for k, v in overrides.items() if v is not None})
