"""Tiny InternVL in its transformers-native (`-hf`) form: InternViT-style vision tower, pixel shuffle, Qwen2.

The processor is the stock `InternVLProcessor` with `GotOcr2ImageProcessor` tiling (up to
`max_patches` tiles plus a thumbnail per image; the paper's setting is 4, transformers' default 12),
and the chat template is the one transformers' conversion script writes into `-hf` checkpoints
(an image block renders as ``<IMG_CONTEXT>`` plus a newline).
"""

from __future__ import annotations

from typing import Any

from mis.models.tiny._common import IMAGENET_STANDARD, TinyArch, ids
from mis.models.tiny._sizes import TinySize

__all__ = ["INTERNVL"]

_INTERNVL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>",
)


def _internvl_tokens(size: TinySize) -> int:
    # one tile per square image_size image (no thumbnail for a single tile); pixel shuffle by `merge`
    return (size.image_size // size.patch_size) ** 2 // size.merge**2


def _internvl_processor(size: TinySize, tokenizer: Any, chat_template: str) -> Any:
    from transformers import GotOcr2ImageProcessor, InternVLProcessor, InternVLVideoProcessor

    mean, std = IMAGENET_STANDARD
    side = {"height": size.image_size, "width": size.image_size}
    image_processor = GotOcr2ImageProcessor(size=side, crop_to_patches=True, min_patches=1, max_patches=12,
                                            image_mean=mean, image_std=std)
    video_processor = InternVLVideoProcessor(size=side, image_mean=mean, image_std=std)
    return InternVLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                             video_processor=video_processor, image_seq_length=_internvl_tokens(size),
                             chat_template=chat_template)


def _internvl_config(size: TinySize, tokenizer: Any) -> Any:
    from transformers import InternVLConfig

    bos, eos, pad, image = ids(tokenizer, "<|endoftext|>", "<|im_end|>", "<|endoftext|>", "<IMG_CONTEXT>")
    vision_config = {
        "hidden_size": size.vision_hidden,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": size.vision_heads,
        "intermediate_size": size.vision_intermediate,
        "image_size": [size.image_size, size.image_size],
        "patch_size": [size.patch_size, size.patch_size],
    }
    text_config = {
        "model_type": "qwen2",
        "vocab_size": len(tokenizer),
        "hidden_size": size.text_hidden,
        "intermediate_size": size.text_intermediate,
        "num_hidden_layers": size.text_layers,
        "num_attention_heads": size.text_heads,
        "num_key_value_heads": size.text_heads,
        "max_position_embeddings": size.max_positions,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "tie_word_embeddings": False,
    }
    return InternVLConfig(vision_config=vision_config, text_config=text_config, image_token_id=image,
                          downsample_ratio=1 / size.merge, tie_word_embeddings=False)


def _internvl_class() -> type:
    from transformers import InternVLForConditionalGeneration

    return InternVLForConditionalGeneration


INTERNVL = TinyArch(
    name="internvl",
    special_tokens=_INTERNVL_TOKENS,
    named_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    stop_tokens=("<|im_end|>", "<|endoftext|>"),
    make_processor=_internvl_processor,
    make_config=_internvl_config,
    model_class=_internvl_class,
    tokens_per_image=_internvl_tokens,
    extra_named_tokens={"start_image_token": "<img>", "end_image_token": "</img>",
                        "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"},
)
