"""The two backend protocols every build step talks to, and the errors they raise.

A **text backend** answers one :class:`ModelRequest` (a rendered prompt, 0..n images, and the
structured record the prompt was rendered from) with the model's raw text. Inspect models, the
offline template generator and the exact checker are all text backends; steps parse the text the
same way whichever produced it, so offline runs exercise the real parsing.

An **image backend** turns one :class:`ImageRequest` into a PIL image. diffusers, an OpenAI-compatible
images API and the procedural renderer are image backends.

Both carry a ``name`` (recorded in the manifest and in every request hash, so switching models
invalidates cached replies) and ``settings()`` (recorded in the manifest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mis.errors import RunStopped

if TYPE_CHECKING:
    from PIL.Image import Image


class BackendError(RunStopped):
    """A backend could not answer (transport error, server error, missing dependency).

    The record is not marked done: a rerun retries it. Malformed answers are not BackendErrors;
    they drop the record with a reason.
    """


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelRequest:
    """One call to a text/vision model made by a build step."""

    step: str
    """Which prompt: extract, extract_image, refine, critic, text_safety, image_harm, label, label_judge."""
    prompt: str
    """The rendered prompt template (the whole user turn's text)."""
    images: tuple[Path, ...] = ()
    """Images shown before the prompt, in order ("the first image", "the second image", ...)."""
    record: Mapping[str, Any] = field(default_factory=dict)
    """The structured record the prompt was rendered from (offline backends read it; others ignore it)."""
    attempt: int = 0
    """Regeneration attempt (part of the request hash, so a retry is a new request)."""

    def fingerprint(self, backend_name: str, settings: Mapping[str, Any]) -> str:
        """Hash of everything that determines the reply: model, settings, step, prompt, image bytes."""
        payload = {
            "backend": backend_name,
            "settings": dict(settings),
            "step": self.step,
            "prompt": self.prompt,
            "images": [file_sha256(p) for p in self.images],
            "attempt": self.attempt,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class ImageRequest:
    """One text-to-image render."""

    record_id: str
    index: int
    """1-based object index (object1 / object2)."""
    object: str
    """The object to show, as named in the record."""
    prompt: str
    """The text-to-image prompt (rendered template, or the critic's refined prompt)."""
    seed: int
    width: int
    height: int
    round: int = 0
    """0 for the first render, 1 for the critic's refinement round."""
    context: str = ""
    """The question the image will be shown with (for renderers that use context)."""


@runtime_checkable
class TextBackend(Protocol):
    """Answers prompts (LLM, VLM, offline generator or checker)."""

    name: str

    def settings(self) -> dict[str, Any]:
        """Decoding / connection settings that determine replies (recorded, hashed)."""
        ...

    async def complete(self, request: ModelRequest) -> str:
        """Return the raw reply text; raise BackendError when no reply could be obtained."""
        ...


@runtime_checkable
class ImageBackend(Protocol):
    """Renders one image per request (called from a worker thread; may block)."""

    name: str

    def settings(self) -> dict[str, Any]:
        """Model, steps, guidance, size ... (recorded, hashed into image file names)."""
        ...

    def render(self, request: ImageRequest) -> Image:
        """Return the rendered image; raise BackendError when rendering failed."""
        ...
