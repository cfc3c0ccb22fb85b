"""Resolve model / text-to-image names in a BuildConfig to backend objects, and the plug-in registry.

Names: ``offline`` (template generator for writing steps, exact checker for checking steps; both,
and the ``offline`` renderer, come from :mod:`mis.mini`, the one offline world),
``offline/template``, ``offline/exact``, a name registered with :func:`register_text_backend`,
``package.module:factory`` (called as ``factory(step, spec, config)``), or else an inspect model string.
Text-to-image: ``offline``, ``diffusers``, ``openai``, a name registered with
:func:`register_image_backend`, or ``package.module:factory`` (called as ``factory(config)``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mis.build._config import MODEL_STEPS, BuildConfig, ConfigError, StepModel
from mis.build._protocol import ImageBackend, TextBackend

TextFactory = Callable[[str, StepModel, BuildConfig], TextBackend]
ImageFactory = Callable[[BuildConfig], ImageBackend]
_TEXT: dict[str, TextFactory] = {}
_IMAGE: dict[str, ImageFactory] = {}

#: Steps that check rather than write: ``offline`` resolves to the exact checker for these.
CHECK_STEPS = ("critic", "image_harm", "label_judge")


def register_text_backend(name: str, factory: TextFactory) -> None:
    """Make ``name`` usable as a step model (e.g. MIS-mini's world generator)."""
    _TEXT[name] = factory


def register_image_backend(name: str, factory: ImageFactory) -> None:
    """Make ``name`` usable as ``t2i.backend``."""
    _IMAGE[name] = factory


def _import_factory(spec: str, what: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{what}: cannot import {spec!r}: {exc}") from exc


@dataclass
class Backends:
    """The backends one build uses: a text backend per model step and one image backend."""

    text: dict[str, TextBackend] = field(default_factory=dict)
    image: ImageBackend | None = None

    def describe(self) -> dict[str, Any]:
        """Names and settings for the manifest."""
        out: dict[str, Any] = {s: {"name": b.name, "settings": b.settings()} for s, b in self.text.items()}
        if self.image is not None:
            out["t2i"] = {"name": self.image.name, "settings": self.image.settings()}
        return out


def _offline_world(config: BuildConfig) -> Any:
    """The one offline world (mis.mini's ``world.yaml``), or the file ``world:`` names."""
    from mis.build._offline import plugin

    try:
        return plugin("load_world")(config.world)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"world: cannot read {config.world}: {exc}") from None


def text_backend(step: str, config: BuildConfig, cache: dict[str, TextBackend]) -> TextBackend:
    """The backend for one step; offline backends are shared between steps."""
    spec = config.step(step)
    name = spec.model or "offline"
    if name == "offline":
        name = "offline/exact" if step in CHECK_STEPS else "offline/template"
    if name in ("offline/template", "offline/exact"):
        if name not in cache:
            from mis.build._offline import plugin

            cls = plugin("TemplateGenerator" if name == "offline/template" else "ExactChecker")
            cache[name] = cls(_offline_world(config))
        return cache[name]
    if name in _TEXT:
        return _TEXT[name](step, spec, config)
    if ":" in name and "/" not in name.split(":")[0]:
        return _import_factory(name, f"steps.{step}.model")(step, spec, config)  # type: ignore[no-any-return]
    from mis.build._inspect_backend import InspectTextBackend

    return InspectTextBackend(name, spec)


def image_backend(config: BuildConfig) -> ImageBackend:
    """The text-to-image backend of a config."""
    kind = config.t2i.backend
    if kind == "offline":
        from mis.build._offline import plugin

        return plugin("ProceduralRenderer")(_offline_world(config), flaw_every=5)  # type: ignore[no-any-return]
    if kind == "diffusers":
        from mis.build._images import DiffusersImageBackend

        return DiffusersImageBackend(config.t2i)
    if kind == "openai":
        from mis.build._images import OpenAIImagesBackend

        return OpenAIImagesBackend(config.t2i)
    if kind in _IMAGE:
        return _IMAGE[kind](config)
    if ":" in kind:
        return _import_factory(kind, "t2i.backend")(config)  # type: ignore[no-any-return]
    raise ConfigError(
        f"t2i.backend: unknown backend {kind!r}; use offline, diffusers, openai, a registered "
        "name or package.module:factory"
    )


def resolve_backends(config: BuildConfig, overrides: Backends | None = None) -> Backends:
    """Every step's backend: explicit ``overrides`` first, then the config's names."""
    overrides = overrides or Backends()
    shared: dict[str, TextBackend] = {}
    text = {s: overrides.text.get(s) or text_backend(s, config, shared) for s in MODEL_STEPS}
    return Backends(text=text, image=overrides.image or image_backend(config))
