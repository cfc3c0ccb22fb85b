"""Tiny Qwen2-VL and Qwen2.5-VL (M-RoPE text model, patch-merging vision tower)."""

from __future__ import annotations

from typing import Any

from mis.models.tiny._common import OPENAI_CLIP, TinyArch, ids
from mis.models.tiny._sizes import TinySize

__all__ = ['QWEN2_5_VL', 'QWEN2_VL']


# ------------------------------------------------------------------------------- Qwen2-VL / Qwen2.5-VL
_QWEN_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def _qwen_tokens(size: TinySize) -> int:
    return (size.image_size // size.patch_size) ** 2 // size.merge**2


def _qwen_processor(size: TinySize, tokenizer: Any, chat_template: str) -> Any:
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    mean, std = OPENAI_CLIP
    pixels = size.image_size**2
    common: dict[str, Any] = {
        "patch_size": size.patch_size,
        "merge_size": size.merge,
        "temporal_patch_size": 2,
        "image_mean": mean,
        "image_std": std,
    }
    # min = max pixels: a square image always becomes image_size x image_size, so the number of image
    # tokens is fixed; other aspect ratios keep about the same area (Qwen's smart_resize).
    image_processor = Qwen2VLImageProcessor(size={"shortest_edge": pixels, "longest_edge": pixels}, **common)
    video_processor = Qwen2VLVideoProcessor(
        size={"shortest_edge": pixels, "longest_edge": pixels * 4}, **common
    )
    return Qwen2VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=chat_template,
    )


def _qwen_text_config(size: TinySize, tokenizer: Any) -> dict[str, Any]:
    bos, eos, pad = ids(tokenizer, "<|endoftext|>", "<|im_end|>", "<|endoftext|>")
    half = size.text_hidden // size.text_heads // 2  # rotary frequencies per head
    t = half // 4  # Qwen's 7B splits 64 as [16, 24, 24]: a quarter for time, the rest for h/w
    hw = (half - t) // 2
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": size.text_hidden,
        "intermediate_size": size.text_intermediate,
        "num_hidden_layers": size.text_layers,
        "num_attention_heads": size.text_heads,
        "num_key_value_heads": size.text_heads,
        "max_position_embeddings": size.max_positions,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 1_000_000.0,
            "mrope_section": [half - 2 * hw, hw, hw],
        },
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "tie_word_embeddings": False,
    }


def _qwenids(tokenizer: Any) -> dict[str, Any]:
    image, video, start, end = ids(
        tokenizer, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"
    )
    return {
        "image_token_id": image,
        "video_token_id": video,
        "vision_start_token_id": start,
        "vision_end_token_id": end,
    }


def _qwen2_vl_config(size: TinySize, tokenizer: Any) -> Any:
    from transformers import Qwen2VLConfig

    vision_config = {
        "depth": size.vision_layers,
        "embed_dim": size.vision_hidden,
        "hidden_size": size.text_hidden,
        "mlp_ratio": 4,
        "num_heads": size.vision_heads,
        "patch_size": size.patch_size,
        "spatial_merge_size": size.merge,
        "temporal_patch_size": 2,
    }
    return Qwen2VLConfig(
        text_config=_qwen_text_config(size, tokenizer),
        vision_config=vision_config,
        tie_word_embeddings=False,
        **_qwenids(tokenizer),
    )


def _qwen2_vl_class() -> type:
    from transformers import Qwen2VLForConditionalGeneration

    return Qwen2VLForConditionalGeneration


def _qwen2_5_vl_config(size: TinySize, tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLConfig

    vision_config = {
        "depth": size.vision_layers,
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_intermediate,
        "out_hidden_size": size.text_hidden,
        "num_heads": size.vision_heads,
        "patch_size": size.patch_size,
        "spatial_merge_size": size.merge,
        "temporal_patch_size": 2,
        # windows of 2x2 merged tokens; the last layer attends over the whole image, as in the 7B
        "window_size": size.patch_size * size.merge * 2,
        "fullatt_block_indexes": [size.vision_layers - 1],
    }
    return Qwen2_5_VLConfig(
        text_config=_qwen_text_config(size, tokenizer),
        vision_config=vision_config,
        tie_word_embeddings=False,
        **_qwenids(tokenizer),
    )


def _qwen2_5_vl_processor(size: TinySize, tokenizer: Any, chat_template: str) -> Any:
    from transformers import Qwen2_5_VLProcessor

    qwen2 = _qwen_processor(size, tokenizer, chat_template)
    return Qwen2_5_VLProcessor(
        image_processor=qwen2.image_processor,
        tokenizer=tokenizer,
        video_processor=qwen2.video_processor,
        chat_template=chat_template,
    )


def _qwen2_5_vl_class() -> type:
    from transformers import Qwen2_5_VLForConditionalGeneration

    return Qwen2_5_VLForConditionalGeneration


QWEN2_VL = TinyArch(
    name="qwen2_vl",
    special_tokens=_QWEN_TOKENS,
    named_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    stop_tokens=("<|im_end|>", "<|endoftext|>"),
    make_processor=_qwen_processor,
    make_config=_qwen2_vl_config,
    model_class=_qwen2_vl_class,
    tokens_per_image=_qwen_tokens,
)


QWEN2_5_VL = TinyArch(
    name="qwen2_5_vl",
    special_tokens=_QWEN_TOKENS,
    named_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    stop_tokens=("<|im_end|>", "<|endoftext|>"),
    make_processor=_qwen2_5_vl_processor,
    make_config=_qwen2_5_vl_config,
    model_class=_qwen2_5_vl_class,
    tokens_per_image=_qwen_tokens,
)
