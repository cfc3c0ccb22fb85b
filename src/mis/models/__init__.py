"""Models: per-family inference presets and prompt layouts; tiny offline VLMs of real architectures.

`PRESETS` / `preset_for(model_type)`: how each paper model family is run (processor settings, vLLM
serve arguments, context length). `user_turn_layout(model_type)`: how a multi-image user turn is laid
out for that family (the authors' `Image-k:` labels for InternVL / Idefics3, images first otherwise),
the one function `hfvlm`, the eval sample conversion and the training data share.
`mis.models.tiny`: tiny random-init models for tests and demos.

The `hfvlm/` inspect provider lives in `mis.models.hfvlm` (imported by inspect's entry point, not here,
so `import mis.models` stays free of inspect). Heavy libraries (torch, transformers) are imported
inside the functions that need them.
"""

from mis.models._layout import TurnLayout
from mis.models.presets import PRESETS, Preset, preset_for, user_turn_layout
from mis.models.tiny import ARCHS, TinySize, make_tiny_model, tiny_model_info

__all__ = [
    "ARCHS",
    "PRESETS",
    "Preset",
    "TinySize",
    "TurnLayout",
    "make_tiny_model",
    "preset_for",
    "tiny_model_info",
    "user_turn_layout",
]
