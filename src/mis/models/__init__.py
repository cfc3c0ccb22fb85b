"""Models: tiny offline VLMs of real architectures for tests and demos.

Heavy libraries (torch, transformers) are imported inside the functions that need them.
"""

from mis.models.tiny import ARCHS, TinySize, make_tiny_model, tiny_model_info

__all__ = [
    "ARCHS",
    "TinySize",
    "make_tiny_model",
    "tiny_model_info",
]
