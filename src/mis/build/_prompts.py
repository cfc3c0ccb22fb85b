"""Prompt templates: one Jinja file per step, packaged under ``mis/build/prompts/``, overridable by path.

The sha256 of each template's text goes into the manifest and into every request hash (through the
rendered prompt), so editing a template invalidates exactly the cached replies it affects.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mis.build._config import PROMPT_STEPS, ConfigError
from mis.build._store import sha256_text


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded template: where it came from, its hash, and a render function."""

    step: str
    source: str
    text: str

    @property
    def sha256(self) -> str:
        """Hash of the template text (recorded in the manifest)."""
        return sha256_text(self.text)

    def render(self, **variables: Any) -> str:
        """Render with strict undefined variables, so a template typo fails loudly."""
        import jinja2

        try:
            return _compiled(self.text).render(**variables).strip()
        except jinja2.TemplateError as exc:
            raise ConfigError(f"prompt template {self.source} ({self.step}): {exc}") from exc


@functools.lru_cache(maxsize=64)
def _compiled(text: str) -> Any:
    """Compile a template once (compiling per request cost ~25% of an offline build's CPU)."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    return env.from_string(text)


def load_prompts(overrides: Mapping[str, str] | None = None) -> dict[str, PromptTemplate]:
    """All step templates: the packaged ones, with ``overrides`` (step -> path) replacing some."""
    overrides = dict(overrides or {})
    out: dict[str, PromptTemplate] = {}
    for step in PROMPT_STEPS:
        if step in overrides:
            path = Path(overrides[step])
            if not path.is_file():
                raise ConfigError(f"prompts.{step}: template file {path} does not exist")
            out[step] = PromptTemplate(step, str(path), path.read_text(encoding="utf-8"))
        else:
            ref = resources.files("mis.build").joinpath("prompts", f"{step}.jinja")
            out[step] = PromptTemplate(
                step, f"mis/build/prompts/{step}.jinja", ref.read_text(encoding="utf-8")
            )
    return out
