"""Models: tiny offline VLMs of real architectures for tests and demos; per-family inference presets.

The `hfvlm/` inspect provider lives in `mis.models.hfvlm` (imported by inspect's entry point, not here,
so `import mis.models` stays free of inspect).

Heavy libraries (torch, transformers) are imported inside the functions that need them.
"""

from mis.models.families import FAMILIES, Family, family_of
from mis.models.tiny import ARCHS, TinySize, make_tiny_model, tiny_model_info

__all__ = [
    "ARCHS",
    "FAMILIES",
    "Family",
    "TinySize",
    "family_of",
    "make_tiny_model",
    "tiny_model_info",
]
