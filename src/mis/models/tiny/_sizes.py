"""`TinySize`: every size of a tiny model in one frozen dataclass (no heavy imports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["TinySize", "with_sizes"]


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


def with_sizes(size: TinySize | None, **overrides: Any) -> TinySize:
    """`size` (or the defaults) with the non-None `overrides` applied (used by the CLI)."""
    return replace(size or TinySize(), **{k: v for k, v in overrides.items() if v is not None})
