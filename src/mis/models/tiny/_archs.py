"""Per-architecture builders for tiny models (`TinyArch`): special tokens, stock processor, model config.

Each family builds the real config and processor classes of transformers 5.x with every size and token
id taken from one `TinySize` and the trained tokenizer, so model and processor cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from mis.models.tiny._sizes import TinySize

__all__ = ["ARCHS", "TINY_ARCHS", "TinyArch", "tokens_per_image"]

IMAGENET_STANDARD = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
OPENAI_CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])


@dataclass(frozen=True)
class TinyArch:
    """What differs between architectures; `make_tiny_model` does the rest the same way for all."""

    name: str
    special_tokens: tuple[str, ...]
    named_tokens: dict[str, str]
    stop_tokens: tuple[str, ...]
    make_processor: Callable[[TinySize, Any, str], Any]
    make_config: Callable[[TinySize, Any], Any]
    model_class: Callable[[], type]
    tokens_per_image: Callable[[TinySize], int]
    template: str = field(default="")

    def chat_template(self) -> str:
        """The family's stock chat template, shipped as a package file."""
        name = self.template or self.name
        return (
            resources.files("mis.models.tiny").joinpath(f"chat_templates/{name}.jinja").read_text(encoding="utf-8")
        )


def _ids(tokenizer: Any, *tokens: str) -> list[int]:
    ids = [tokenizer.convert_tokens_to_ids(t) for t in tokens]
    missing = [t for t, i in zip(tokens, ids, strict=True) if i is None]
    if missing:
        raise RuntimeError(f"tokenizer lacks special tokens {missing}")
    return ids


# ----------------------------------------------------------------------------------------- Idefics3
_IDEFICS3_TOKENS = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",  # Idefics3-8B-Llama3's pad token
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)),
)


def _idefics3_processor(size: TinySize, tokenizer: Any, chat_template: str) -> Any:
    from transformers import Idefics3ImageProcessor, Idefics3Processor

    mean, std = IMAGENET_STANDARD
    image_processor = Idefics3ImageProcessor(
        do_image_splitting=False,
        size={"longest_edge": size.image_size},
        max_image_size={"longest_edge": size.image_size},
        image_mean=mean,
        image_std=std,
    )
    return Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=_idefics3_tokens(size),
        chat_template=chat_template,
    )


def _idefics3_tokens(size: TinySize) -> int:
    return (size.image_size // size.patch_size) ** 2 // size.merge**2


def _idefics3_config(size: TinySize, tokenizer: Any) -> Any:
    from transformers import Idefics3Config

    bos, eos, pad, image = _ids(
        tokenizer, "<|begin_of_text|>", "<end_of_utterance>", "<|reserved_special_token_0|>", "<image>"
    )
    text_config = {
        "model_type": "llama",
        "vocab_size": len(tokenizer),
        "hidden_size": size.text_hidden,
        "intermediate_size": size.text_intermediate,
        "num_hidden_layers": size.text_layers,
        "num_attention_heads": size.text_heads,
        "num_key_value_heads": size.text_heads,
        "max_position_embeddings": size.max_positions,
        "rms_norm_eps": 1e-5,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "tie_word_embeddings": False,
    }
    vision_config = {
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_intermediate,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": size.vision_heads,
        "image_size": size.image_size,
        "patch_size": size.patch_size,
    }
    return Idefics3Config(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=image,
        scale_factor=size.merge,
        tie_word_embeddings=False,
    )


def _idefics3_class() -> type:
    from transformers import Idefics3ForConditionalGeneration

    return Idefics3ForConditionalGeneration


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
    bos, eos, pad = _ids(tokenizer, "<|endoftext|>", "<|im_end|>", "<|endoftext|>")
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


def _qwen_ids(tokenizer: Any) -> dict[str, Any]:
    image, video, start, end = _ids(
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
        **_qwen_ids(tokenizer),
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
        **_qwen_ids(tokenizer),
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

    bos, eos, pad, image, video = _ids(
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


TINY_ARCHS: dict[str, TinyArch] = {
    "idefics3": TinyArch(
        name="idefics3",
        special_tokens=_IDEFICS3_TOKENS,
        named_tokens={
            "bos_token": "<|begin_of_text|>",
            "eos_token": "<end_of_utterance>",
            "pad_token": "<|reserved_special_token_0|>",
        },
        stop_tokens=("<end_of_utterance>", "<|end_of_text|>"),
        make_processor=_idefics3_processor,
        make_config=_idefics3_config,
        model_class=_idefics3_class,
        tokens_per_image=_idefics3_tokens,
    ),
    "qwen2_vl": TinyArch(
        name="qwen2_vl",
        special_tokens=_QWEN_TOKENS,
        named_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        stop_tokens=("<|im_end|>", "<|endoftext|>"),
        make_processor=_qwen_processor,
        make_config=_qwen2_vl_config,
        model_class=_qwen2_vl_class,
        tokens_per_image=_qwen_tokens,
    ),
    "qwen2_5_vl": TinyArch(
        name="qwen2_5_vl",
        special_tokens=_QWEN_TOKENS,
        named_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        stop_tokens=("<|im_end|>", "<|endoftext|>"),
        make_processor=_qwen2_5_vl_processor,
        make_config=_qwen2_5_vl_config,
        model_class=_qwen2_5_vl_class,
        tokens_per_image=_qwen_tokens,
    ),
    "llava_onevision": TinyArch(
        name="llava_onevision",
        special_tokens=_LLAVA_OV_TOKENS,
        named_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        stop_tokens=("<|im_end|>", "<|endoftext|>"),
        make_processor=_llava_ov_processor,
        make_config=_llava_ov_config,
        model_class=_llava_ov_class,
        tokens_per_image=_llava_ov_tokens,
    ),
}

#: Architecture names `mis tiny-model --arch` accepts (the keys of `TINY_ARCHS`).
ARCHS: tuple[str, ...] = tuple(TINY_ARCHS)


def tokens_per_image(size: TinySize, arch: str) -> int:
    """Image tokens the language model sees for one square `size.image_size` image of ``arch``."""
    return TINY_ARCHS[arch].tokens_per_image(size)
