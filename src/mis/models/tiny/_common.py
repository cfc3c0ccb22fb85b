"""What every tiny architecture builder shares: the `TinyArch` record, normalisation constants, id lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from mis.models.tiny._sizes import TinySize

__all__ = ["IMAGENET_STANDARD", "OPENAI_CLIP", "TinyArch", "ids"]

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
    extra_named_tokens: dict[str, str] = field(default_factory=dict)
    """Named special tokens a processor reads from the tokenizer (InternVL: `start_image_token` ...)."""

    def chat_template(self) -> str:
        """The family's stock chat template, shipped as a package file."""
        name = self.template or self.name
        folder = resources.files("mis.models.tiny")
        return folder.joinpath(f"chat_templates/{name}.jinja").read_text(encoding="utf-8")


def ids(tokenizer: Any, *tokens: str) -> list[int]:
    """Token ids of ``tokens``; a missing special token is an error, never a silent unknown id."""
    found = [tokenizer.convert_tokens_to_ids(t) for t in tokens]
    missing = [t for t, i in zip(tokens, found, strict=True) if i is None]
    if missing:
        raise RuntimeError(f"tokenizer lacks special tokens {missing}")
    return found
