"""Tiny random-init VLMs of real architectures, built offline, for tests and the CPU demo.

`make_tiny_model(out, arch)` writes a folder that `AutoModelForImageTextToText` / `AutoProcessor` load
with the hub offline. Sizes live in `_sizes.py` (`TinySize`), per-architecture builders in `_archs.py`
(`TinyArch`, `TINY_ARCHS`), the locally trained tokenizer in `_tokenizer.py`, the build in `_build.py`.
Imports run one way (`_build` -> `_archs` -> `_sizes`), so there is no cycle; torch and transformers
load only inside the functions that need them.
"""

from mis.models.tiny._archs import ARCHS, TINY_ARCHS, TinyArch, tokens_per_image
from mis.models.tiny._build import INFO_FILE, make_tiny_model, tiny_model_info
from mis.models.tiny._sizes import TinySize, with_sizes

__all__ = ["ARCHS", "INFO_FILE", "TINY_ARCHS", "TinyArch", "TinySize", "make_tiny_model", "tiny_model_info",
           "tokens_per_image", "with_sizes"]
