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
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mis._util.io import cache_root
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


#: A hub dataset id: ``owner/name``, nothing more (a trailing slash or a dot prefix makes it a local path).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def local_path(source: str | Path) -> Path:
    """The one resolution rule for every path a user types (relative, absolute, ``~``, trailing slash).

    ``~`` is expanded, the path made absolute against the current working directory, ``.``/``..`` and
    trailing slashes normalised (symlinks are kept as typed). Loaders resolve their source once, here, so
    every path they derive (annotation files, image roots) is absolute and a sample means the same file
    whatever the working directory is later.
    """
    return Path(os.path.abspath(Path(str(source)).expanduser()))


def looks_like_hub_id(source: str | Path) -> bool:
    """``owner/name`` that is not an existing local path."""
    text = str(source)
    return _HUB_ID.fullmatch(text) is not None and not local_path(text).exists()


def normalize_source(source: str | Path) -> str:
    """What a run records as its data: a local path made absolute (:func:`local_path`), a hub id as is."""
    return str(source) if looks_like_hub_id(source) else str(local_path(source))


def resolve_source(source: str | Path, *, allow_patterns: Sequence[str] | None = None) -> Path:
    """A local folder/file (absolute, :func:`local_path`), or a hub dataset id (``huggingface_hub``).

    Offline (``HF_HUB_OFFLINE=1``) or unreachable hub -> an error that says to pass a local folder.
    """
    if not looks_like_hub_id(source):
        path = local_path(source)
        if not path.exists():
            shown = "" if str(source) == str(path) else f" ({path})"
            raise DataError(f"{source}: no such file or folder{shown}")
        return path
    from mis.data._hub import download

    return download(str(source), cache_root() / "hub", list(allow_patterns) if allow_patterns else None)


def image_root(candidates: Sequence[Path], images: Iterable[str]) -> Path:
    """The folder ``images`` (paths as published) are relative to: the candidate holding most of them.

    ``candidates`` come in order of preference, the README's own place first; when no candidate holds any
    image, that first one is returned, so missing-image errors name the folder the README uses.
    """
    folders = list(dict.fromkeys(candidates))
    rels = list(dict.fromkeys(images))
    best, found = folders[0], 0
    for folder in folders:
        if not folder.is_dir():
            continue
        count = sum(1 for rel in rels if (folder / rel).is_file())
        if count > found:
            best, found = folder, count
            if found == len(rels):
                break
    return best


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


@dataclass(frozen=True)
class ImageRelease:
    """Where a benchmark's README puts its images and how it says to get them (errors repeat it)."""

    folder: str
    """The image folder as the README writes it, relative to the release (``data/VLGuard/test``)."""
    how: str
    """The README's step that fills it, in one line (the archive and where it comes from)."""

    def describe(self) -> str:
        """One line for errors and the suite's status table."""
        return f"the README's {self.folder}/: {self.how}"


_RELEASES: dict[str, ImageRelease | Callable[[Any], ImageRelease | None]] = {}


def register_release(benchmark: str, release: ImageRelease | Callable[[Any], ImageRelease | None]) -> None:
    """Record where ``benchmark``'s README puts its images (or a function of its options that says so)."""
    _RELEASES[benchmark] = release


def image_release(benchmark: str, options: Any = None) -> ImageRelease | None:
    """Where ``benchmark``'s README puts its images (None: images come inside the data files)."""
    release = _RELEASES.get(benchmark)
    return release(options) if callable(release) else release


@dataclass(frozen=True)
class MissingImages:
    """The referenced images that do not exist, counted once per file."""

    total: int
    """Distinct image files referenced."""
    files: list[Path]
    """Distinct files not found, in sample order."""
    uids: list[str]
    """Samples referencing at least one of them."""
    lines: list[str]
    """``uid: path`` per missing reference."""

    @property
    def folder(self) -> Path | None:
        """The deepest folder holding every missing file (where to put them)."""
        if not self.files:
            return None
        return Path(os.path.commonpath([str(f.parent) for f in self.files]))


def find_missing(samples: Iterable[Sample]) -> MissingImages:
    """Every referenced image that does not exist (checked up front, before any model time)."""
    seen: dict[Path, bool] = {}
    files: list[Path] = []
    uids: list[str] = []
    lines: list[str] = []
    for s in samples:
        absent = False
        for p in s.image_paths():
            if p not in seen:
                seen[p] = p.is_file()
                if not seen[p]:
                    files.append(p)
            if not seen[p]:
                absent = True
                lines.append(f"{s.uid}: {p}")
        if absent:
            uids.append(s.uid)
    return MissingImages(total=len(seen), files=files, uids=uids, lines=lines)


def missing_images(samples: Iterable[Sample]) -> list[str]:
    """``uid: path`` for every referenced image that does not exist (validated up front)."""
    return find_missing(samples).lines


def missing_message(benchmark: str, report: MissingImages, options: Any = None) -> str:
    """What a run without its images says: how many, where the README puts them, the CLI fix."""
    head = "\n  ".join(report.lines[:10])
    more = f"\n  ... and {len(report.lines) - 10} more" if len(report.lines) > 10 else ""
    release = image_release(benchmark, options)
    where = f"\nthey belong in {report.folder}" + (f" ({release.describe()})" if release else "")
    count = f"{len(report.files)} of {report.total}"
    return (
        f"{benchmark}: {count} referenced image(s) missing:\n  {head}{more}{where}\n"
        f"fix: put them there, or run without those samples: --task-arg {benchmark}.missing=skip"
    )


def check_images(
    samples: list[Sample], *, missing: str = "error", benchmark: str = "", options: Any = None
) -> list[Sample]:
    """Apply the missing-image policy: ``error`` (default, lists them) or ``skip`` (drop, logged)."""
    if missing not in ("error", "skip"):
        raise ValueError(f"missing={missing!r}: expected 'error' or 'skip'")
    report = find_missing(samples)
    if not report.files:
        return samples
    if missing == "error":
        raise DataError(missing_message(benchmark, report, options))
    bad = set(report.uids)
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
