"""The registry of tiny architectures (`TINY_ARCHS`); each builder lives in its own module.

Each builds the real config and processor classes of transformers 5.x with every size and token id
taken from one `TinySize` and the trained tokenizer, so model and processor cannot disagree.
"""

from __future__ import annotations

from mis.models.tiny._common import TinyArch
from mis.models.tiny._idefics3 import IDEFICS3
from mis.models.tiny._internvl import INTERNVL
from mis.models.tiny._llava import LLAVA_ONEVISION
from mis.models.tiny._qwen import QWEN2_5_VL, QWEN2_VL
from mis.models.tiny._sizes import TinySize

__all__ = ["ARCHS", "TINY_ARCHS", "TinyArch", "tokens_per_image"]

TINY_ARCHS: dict[str, TinyArch] = {
    a.name: a for a in (IDEFICS3, QWEN2_VL, QWEN2_5_VL, LLAVA_ONEVISION, INTERNVL)
}

#: Architecture names `mis tiny-model --arch` accepts (the keys of `TINY_ARCHS`).
ARCHS: tuple[str, ...] = tuple(TINY_ARCHS)


def tokens_per_image(size: TinySize, arch: str) -> int:
    """Image tokens the language model sees for one square `size.image_size` image of ``arch``."""
    return TINY_ARCHS[arch].tokens_per_image(size)
