"""Prompt and rubric templates: a packaged name or a path to a file (habit 8: presets are data)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

PROMPTS_DIR = "templates/eval/prompts"
JUDGE_DIR = "templates/judge"


def packaged_names(folder: str, suffix: str) -> list[str]:
    """Names of the packaged templates in ``folder`` (file stems)."""
    root = resources.files("mis").joinpath(folder)
    return sorted(p.name[: -len(suffix)] for p in root.iterdir() if p.name.endswith(suffix))


def template_text(name_or_path: str, *, folder: str, suffix: str) -> str:
    """Text of a packaged template ``name`` or of the file at ``name_or_path``.

    A name that is neither a packaged template nor an existing file raises ``ValueError`` listing
    the packaged names.
    """
    packaged = resources.files("mis").joinpath(folder).joinpath(name_or_path + suffix)
    if "/" not in name_or_path and packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    names = ", ".join(packaged_names(folder, suffix))
    raise ValueError(f"unknown template {name_or_path!r}: not a packaged name ({names}) nor a file")


def render(text: str, **values: str) -> str:
    """Render a jinja template string (undefined variables are an error, not an empty string)."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    return env.from_string(text).render(**values).strip()


def sha256_text(text: str) -> str:
    """Hex sha256 of a template's exact text (recorded with every judged result)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
