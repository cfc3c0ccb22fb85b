"""Tiny LLaVA-OneVision (SigLIP + Qwen2; every patch is an image token)."""

from __future__ import annotations

from typing import Any

from mis.models.tiny._common import IMAGENET_STANDARD, TinyArch, ids
from mis.models.tiny._sizes import TinySize

__all__ = ['LLAVA_ONEVISION']


# ------------------------------------------------------------------------------------ LLaVA-OneVision
_LLAVA_OV_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>")


def _llava_ov_tokens(size: TinySize) -> int:
    # In a multi-image prompt each image is its base crop only: one token per patch plus a newline.
    return (size.image_size // size.patch_size) ** 2 + 1


def _llava_ov_processor(size: TinySize, tokenizer: Any, chat_template: str) -> Any:
    from transformers import (
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    mean, std = IMAGENET_STANDARD  # SigLIP's normalisation, as in the stock checkpoints
    side = size.image_size
    image_processor = LlavaOnevisionImageProcessor(
        size={"height": side, "width": side},
        # anyres grid: a single image is seen whole plus at up to 2x2 tiles (the stock list is 6x6)
        image_grid_pinpoints=[[side * r, side * c] for r in (1, 2) for c in (1, 2)],
        image_mean=mean,
        image_std=std,
    )
    video_processor = LlavaOnevisionVideoProcessor(
        size={"height": side, "width": side}, image_mean=mean, image_std=std
    )
    return LlavaOnevisionProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        num_image_tokens=(side // size.patch_size) ** 2,
        vision_feature_select_strategy="full",
        chat_template=chat_template,
        vision_aspect_ratio="anyres_max_9",
    )


def _llava_ov_config(size: TinySize, tokenizer: Any) -> Any:
    from transformers import LlavaOnevisionConfig

    bos, eos, pad, image, video = ids(
        tokenizer, "<|endoftext|>", "<|im_end|>", "<|endoftext|>", "<image>", "<video>"
    )
    side = size.image_size
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
    vision_config = {
        "model_type": "siglip_vision_model",
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_intermediate,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": size.vision_heads,
        "image_size": side,
        "patch_size": size.patch_size,
        "vision_use_head": False,
    }
    return LlavaOnevisionConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_index=image,
        video_token_index=video,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=[[side * r, side * c] for r in (1, 2) for c in (1, 2)],
        vision_aspect_ratio="anyres_max_9",
        tie_word_embeddings=False,
    )


def _llava_ov_class() -> type:
    from transformers import LlavaOnevisionForConditionalGeneration

    return LlavaOnevisionForConditionalGeneration


LLAVA_ONEVISION = TinyArch(
    name="llava_onevision",
    special_tokens=_LLAVA_OV_TOKENS,
    named_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    stop_tokens=("<|im_end|>", "<|endoftext|>"),
    make_processor=_llava_ov_processor,
    make_config=_llava_ov_config,
    model_class=_llava_ov_class,
    tokens_per_image=_llava_ov_tokens,
)
