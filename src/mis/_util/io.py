"""Durable file writes (never a half-written results file, never a lost checkpoint line), and mis's cache."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` via a temporary file, fsync and rename (readers see the old or the new, never half).

    The temporary file has a unique name beside ``path``, so writers racing on one path (two campaign
    workers finishing a status file, say) each rename a whole file of their own: the last rename wins.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_umask() -> int:
    """The process umask, read once at import (mkstemp makes 0600 files; results get the usual mode)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as indented JSON (UTF-8 kept readable), written atomically."""
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """One JSON object per line, written atomically."""
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a bad line raises DataError naming ``file:line``."""
    from mis.errors import DataError

    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{lineno}: a line must be a JSON object")
            yield lineno, obj


def cache_root() -> Path:
    """Where mis keeps what it derives (drawn images, hub downloads, image-gate verdicts).

    ``MIS_CACHE_DIR``, else ``$XDG_CACHE_HOME/mis`` or ``~/.cache/mis``.
    """
    env = os.environ.get("MIS_CACHE_DIR")
    if env:
        return Path(os.path.abspath(Path(env).expanduser()))
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.path.abspath(Path(base).expanduser())) / "mis"
