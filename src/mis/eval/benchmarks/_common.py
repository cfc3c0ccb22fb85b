"""Shared plumbing for the benchmark loaders: sources, errors, image checks, parquet images, templates.

Every loader returns :class:`mis.data.Sample` records (one record type through the whole toolkit);
benchmark-specific fields go to ``metadata`` under their published names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from mis.data._schema import Sample

log = logging.getLogger(__name__)

TEMPLATE_DIR = "templates/benchmarks"


class BenchmarkDataError(ValueError):
    """A benchmark file is missing or malformed; the message names file, record and field."""


def fail(file: Path | str, record: object, field: str, message: str) -> BenchmarkDataError:
    """Build the error raised for bad input: ``file: record <id>: field 'f': message``."""
    return BenchmarkDataError(f"{file}: record {record}: field {field!r}: {message}")


def read_json(path: Path) -> Any:
    """Parse a JSON file; a parse error names the file and the line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchmarkDataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise BenchmarkDataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def require(
    record: dict[str, Any], key: str, file: Path, rid: object, kind: type | tuple[type, ...] = str
) -> Any:
    """``record[key]`` checked for presence and type (the published field name, exactly)."""
    if key not in record:
        raise fail(file, rid, key, f"missing (keys present: {sorted(record)})")
    value = record[key]
    if not isinstance(value, kind):
        raise fail(file, rid, key, f"expected {kind}, got {type(value).__name__}")
    return value


def cache_root() -> Path:
    """Where extracted/regenerated images and hub downloads go (``MIS_CACHE_DIR`` overrides)."""
    env = os.environ.get("MIS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mis"


def looks_like_hub_id(source: str | Path) -> bool:
    """``owner/name`` that is not an existing local path."""
    text = str(source)
    return (
        not Path(text).expanduser().exists() and text.count("/") == 1 and not text.startswith((".", "/", "~"))
    )


def resolve_source(source: str | Path, *, allow_patterns: Sequence[str] | None = None) -> Path:
    """A local folder/file as is, or a hub dataset id downloaded with ``huggingface_hub``.

    Offline (``HF_HUB_OFFLINE=1``) or unreachable hub -> an error that says to pass a local folder.
    """
    if not looks_like_hub_id(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise BenchmarkDataError(f"{path}: no such file or folder")
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                repo_id=str(source),
                repo_type="dataset",
                allow_patterns=list(allow_patterns) if allow_patterns else None,
                cache_dir=str(cache_root() / "hub"),
            )
        )
    except Exception as exc:  # noqa: BLE001 - re-raised with the fix
        raise BenchmarkDataError(
            f"{source}: cannot download the hub dataset ({type(exc).__name__}: {exc}); "
            "download it elsewhere and pass the local folder instead"
        ) from exc


def find_file(root: Path, candidates: Iterable[str], what: str) -> Path:
    """The first existing ``root/candidate`` (``root`` itself when it is a file)."""
    if root.is_file():
        return root
    tried = []
    for rel in candidates:
        path = root / rel
        tried.append(str(path))
        if path.is_file():
            return path
    raise BenchmarkDataError(f"{root}: no {what} found (looked for: {', '.join(tried)})")


def missing_images(samples: Iterable[Sample]) -> list[str]:
    """``uid: path`` for every referenced image that does not exist (validated up front)."""
    out = []
    for s in samples:
        for p in s.image_paths():
            if not p.is_file():
                out.append(f"{s.uid}: {p}")
    return out


def check_images(samples: list[Sample], *, missing: str = "error", benchmark: str = "") -> list[Sample]:
    """Apply the missing-image policy: ``error`` (default, lists them) or ``skip`` (drop, logged)."""
    if missing not in ("error", "skip"):
        raise ValueError(f"missing={missing!r}: expected 'error' or 'skip'")
    absent = missing_images(samples)
    if not absent:
        return samples
    if missing == "error":
        head = "\n  ".join(absent[:10])
        more = f"\n  ... and {len(absent) - 10} more" if len(absent) > 10 else ""
        raise BenchmarkDataError(
            f"{benchmark}: {len(absent)} referenced image(s) missing:\n  {head}{more}\n"
            "download the benchmark's image archive, or pass missing='skip' to drop those records"
        )
    bad = {line.split(": ", 1)[0] for line in absent}
    kept = [s for s in samples if s.uid not in bad]
    log.warning("%s: dropped %d of %d records with missing images", benchmark, len(bad), len(samples))
    return kept


def image_bytes(value: Any) -> bytes | None:
    """Bytes of a parquet/datasets image cell (``{"bytes", "path"}`` struct, raw bytes or PIL)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        if value.get("path") and Path(value["path"]).is_file():
            return Path(value["path"]).read_bytes()
        return None
    if hasattr(value, "save"):  # PIL image
        import io

        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue()
    raise TypeError(f"unsupported image cell of type {type(value).__name__}")


def store_image(data: bytes, folder: Path) -> Path:
    """Write image bytes content-addressed under ``folder`` (idempotent; returns the path)."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    ext = ".png" if data[:8] == b"\x89PNG\r\n\x1a\n" else ".jpg" if data[:3] == b"\xff\xd8\xff" else ".img"
    path = folder / f"{digest}{ext}"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def read_parquet_rows(files: Sequence[Path]) -> list[dict[str, Any]]:
    """All rows of the parquet files as dicts (images stay as ``{"bytes", "path"}`` structs)."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for f in files:
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def parquet_files(root: Path, split: str | None = None) -> list[Path]:
    """Parquet files of a hub snapshot folder, optionally only those whose name mentions ``split``."""
    if root.is_file():
        return [root]
    files = sorted(root.rglob("*.parquet"))
    if split is not None:
        chosen = [
            f
            for f in files
            if f.name.startswith(split)
            or f"/{split}" in f.as_posix()
            or f"{split}-" in f.name
            or f"-{split}" in f.name
        ]
        files = chosen or files
    if not files:
        raise BenchmarkDataError(f"{root}: no .parquet files found")
    return files


def image_cache_dir(benchmark: str, source: Path) -> Path:
    """Per-source folder for images extracted from parquet cells."""
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    return cache_root() / "benchmarks" / benchmark / key


def template(name: str) -> str:
    """Text of a packaged benchmark template (``src/mis/templates/benchmarks/<name>``)."""
    return resources.files("mis").joinpath(TEMPLATE_DIR).joinpath(name).read_text(encoding="utf-8")


def sha256_text(text: str) -> str:
    """Hex sha256 of a template's exact text (part of the judge identity)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render(text: str, **values: str) -> str:
    """Render a jinja template (undefined variables are errors) without touching the values."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string(text).render(**values)
