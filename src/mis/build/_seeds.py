"""Read seeds: harmful text queries and/or images from JSONL, CSV or folders.

A seed's id is a hash of its content (query text, image bytes, category), so ids survive reordering
or editing other lines of the seed files, and identical seeds collapse into one. Every seed image passes
the image gate (:class:`mis.data.ImageGate`) before any model sees it: inside the folder of the seed file
that names it (unless ``allow_outside_root``), a whole image of an allowed format within the pixel budget.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from mis._util.io import read_jsonl
from mis.build._store import Record, stable_hash
from mis.data import ImageGate
from mis.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
TEXT_FIELDS = ("query", "question", "text", "prompt", "instruction")
IMAGE_FIELDS = ("image", "image_path", "image_path1")


class SeedError(DataError):
    """A seed file is unusable; the message names the file, line and field."""


def _seed(query: str | None, image: Path | None, category: str | None, source: str,
          gate: ImageGate | None = None) -> Record:
    image_hash = None
    if image is not None:
        check = (gate or ImageGate(image.parent)).check(str(image))
        if not check.ok:
            raise SeedError(f"{source}: field 'image': {check.message}")
        image_hash = check.sha256
    sid = "s" + stable_hash([query, image_hash, category])[:12]
    return {
        "id": sid,
        "kind": "image" if image is not None else "text",
        "query": query or "",
        "image": str(image.resolve()) if image is not None else None,
        "category": category or "",
        "source": source,
    }


def _from_row(row: dict[str, Any], base: Path, source: str, gate: ImageGate) -> Record:
    query = next((str(row[f]).strip() for f in TEXT_FIELDS if row.get(f)), None)
    image_value = next((str(row[f]).strip() for f in IMAGE_FIELDS if row.get(f)), None)
    image = None
    if image_value:
        image = Path(image_value)
        image = image if image.is_absolute() else base / image
    if not query and image is None:
        raise SeedError(
            f"{source}: no query ({'/'.join(TEXT_FIELDS)}) and no image ({'/'.join(IMAGE_FIELDS)})"
        )
    category = row.get("category")
    return _seed(query, image, str(category).strip() if category else None, source, gate)


def _read_file(path: Path, root: Path, allow_outside: bool) -> list[Record]:
    gate = ImageGate(root, allow_outside=allow_outside)
    out = []
    if path.suffix == ".jsonl":
        for n, row in read_jsonl(path):
            out.append(_from_row(row, path.parent, f"{path}:{n}", gate))
    elif path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                out.append(_from_row(row, path.parent, f"{path}:{n}", gate))
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        out.append(_seed(None, path, None, str(path), gate))
    else:
        raise SeedError(f"{path}: unsupported seed file (use .jsonl, .csv, an image, or a folder of them)")
    return out


def read_seeds(
    paths: list[str], max_seeds: int | None = None, *, allow_outside: bool = False
) -> list[Record]:
    """All seeds of the given files/folders, deduplicated, sorted by id, optionally the first N.

    A seed image must lie inside the folder given (or the folder of the seed file that names it) unless
    ``allow_outside``.
    """
    seeds: dict[str, Record] = {}
    for p in paths:
        path = Path(p)
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for f in files:
            if path.is_dir() and f.suffix.lower() not in (*IMAGE_SUFFIXES, ".jsonl", ".csv"):
                continue
            root = path if path.is_dir() else path.parent
            for seed in _read_file(f, root, allow_outside):
                seeds.setdefault(seed["id"], seed)
    ordered = sorted(seeds.values(), key=lambda s: s["id"])
    return ordered[:max_seeds] if max_seeds is not None else ordered
