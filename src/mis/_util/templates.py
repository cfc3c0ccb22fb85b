"""Templates (prompts, judge rubrics): a packaged name or a file path, compiled once, hashed exactly.

One jinja environment serves the whole process and each distinct template text is compiled once, so a judge
that renders its rubric for every sample pays the compile cost a single time.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mis.errors import UsageError


def packaged_names(folder: str, suffix: str) -> list[str]:
    """Names of the packaged templates in ``folder`` (under ``src/mis/``), without ``suffix``."""
    root = resources.files("mis").joinpath(folder)
    return sorted(p.name[: -len(suffix)] for p in root.iterdir() if p.name.endswith(suffix))


def packaged_text(folder: str, name: str) -> str:
    """Text of the packaged file ``src/mis/<folder>/<name>``."""
    return resources.files("mis").joinpath(folder).joinpath(name).read_text(encoding="utf-8")


def template_text(name_or_path: str, *, folder: str, suffix: str) -> str:
    """Text of the packaged template ``name`` or of the file at ``name_or_path``.

    A name that is neither a packaged template nor an existing file raises :class:`UsageError` listing the
    packaged names.
    """
    packaged = resources.files("mis").joinpath(folder).joinpath(name_or_path + suffix)
    if "/" not in name_or_path and packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    names = ", ".join(packaged_names(folder, suffix))
    raise UsageError(f"unknown template {name_or_path!r}: not a packaged name ({names}) nor a file")


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@cache
def compiled(text: str) -> Any:
    """The compiled jinja template of ``text`` (cached: each distinct text compiles once per process)."""
    return _environment().from_string(text)


def render(text: str, *, strip: bool = True, **values: Any) -> str:
    """Render a template text; undefined variables are an error, values are inserted untouched."""
    out: str = compiled(text).render(**values)
    return out.strip() if strip else out


def sha256_text(text: str) -> str:
    """Hex sha256 of a template's exact text (recorded with every judged result)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
