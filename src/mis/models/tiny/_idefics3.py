"""Tiny Idefics3 (Llama text model, SigLIP-style vision tower, pixel shuffle)."""

from __future__ import annotations

from typing import Any

from mis.models.tiny._common import IMAGENET_STANDARD, TinyArch, ids
from mis.models.tiny._sizes import TinySize

__all__ = ['IDEFICS3']


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

    bos, eos, pad, image = ids(
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


IDEFICS3 = TinyArch(
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
)
