"""Shared plumbing for the benchmark loaders: sources, errors, image checks, parquet images, templates.

Every loader returns :class:`mis.data.Sample` records (one record type through the whole toolkit);
benchmark-specific fields go to ``metadata`` under their published names. Bad input raises
:class:`mis.errors.DataError` naming the file, the record and the field.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mis._util.templates import packaged_text
from mis.data._schema import Sample
from mis.errors import DataError

log = logging.getLogger(__name__)

TEMPLATE_DIR = "templates/benchmarks"
#: Kept for code written against 0.1.0: benchmark data errors are :class:`mis.errors.DataError`.
BenchmarkDataError = DataError


def fail(file: Path | str, record: object, field: str, message: str) -> DataError:
    """Build the error raised for bad input: ``file: record <id>: field 'f': message``."""
    return DataError(f"{file}: record {record}: field {field!r}: {message}")


def read_json(path: Path) -> Any:
    """Parse a JSON file; a parse error names the file and the line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def read_csv(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` of a CSV with a header holding ``columns`` (a missing one names the file)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        absent = [c for c in columns if c not in (reader.fieldnames or [])]
        if absent:
            raise fail(path, "header", absent[0], f"missing column (header: {reader.fieldnames})")
        return list(enumerate(reader, start=2))


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
            raise DataError(f"{path}: no such file or folder")
        return path
    from mis.data._hub import download

    return download(str(source), cache_root() / "hub", list(allow_patterns) if allow_patterns else None)


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
    raise DataError(f"{root}: no {what} found (looked for: {', '.join(tried)})")


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
        raise DataError(
            f"{benchmark}: {len(absent)} referenced image(s) missing:\n  {head}{more}\n"
            "download the benchmark's image archive, or skip those records with "
            f"--task-arg {benchmark}.missing=skip"
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
        raise DataError(f"{root}: no .parquet files found")
    return files


def image_cache_dir(benchmark: str, source: Path) -> Path:
    """Per-source folder for images extracted from parquet cells."""
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    return cache_root() / "benchmarks" / benchmark / key


def template(name: str) -> str:
    """Text of a packaged benchmark prompt template (``src/mis/templates/benchmarks/<name>``)."""
    return packaged_text(TEMPLATE_DIR, name)
