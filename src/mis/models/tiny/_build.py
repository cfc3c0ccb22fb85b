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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mis.models.tiny._archs import ARCHS
from mis.models.tiny._sizes import TinySize

__all__ = ["ARCHS", "INFO_FILE", "make_tiny_model", "tiny_model_info"]

log = logging.getLogger(__name__)

INFO_FILE = "tiny_model.json"


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

    from mis.models.tiny._archs import TINY_ARCHS
    from mis.models.tiny._tokenizer import train_tokenizer

    if arch not in TINY_ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    size = size or TinySize()
    size.validate(arch)
    spec = TINY_ARCHS[arch]
    out = Path(out)

    tokenizer = train_tokenizer(
        vocab_size=size.vocab_size,
        special_tokens=spec.special_tokens,
        named_tokens=spec.named_tokens,
        corpus=corpus,
        extra_named_tokens=spec.extra_named_tokens or None,
    )
    chat_template = spec.chat_template()
    processor = spec.make_processor(size, tokenizer, chat_template)
    tokenizer = processor.tokenizer  # a processor may add tokens (Idefics3 does); ids are final now
    config = spec.make_config(size, tokenizer)
    # Marks the checkpoint (and anything fine-tuned from it) as tiny: `hfvlm` keeps its processor sizes
    # instead of a paper family's pixel settings, which its small vision tower and context cannot take.
    config.mis_tiny_model = True

    model_cls = spec.model_class()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    model.eval()

    stop_ids = [tokenizer.convert_tokens_to_ids(t) for t in spec.stop_tokens]
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=stop_ids if len(stop_ids) > 1 else stop_ids[0],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    tokens = _probe_tokens_per_image(processor, config.image_token_id, size.image_size)
    expected = spec.tokens_per_image(size)
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
