"""mis: multi-image safety for vision-language models (MIS data, MIRage training, evaluation).

Importing ``mis`` is cheap: torch, transformers and inspect are imported only by the functions that
need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
