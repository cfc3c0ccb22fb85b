"""`write_mis_layout`: Samples -> the MIS release layout, which `load` reads back."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mis.data._errors import DataError
from mis.data._records import internvl_prompt
from mis.data._schema import Sample

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def safe_id(sample: Sample) -> str:
    """The sample id, checked to be usable as a folder name."""
    if not _SAFE_ID.match(sample.id) or ".." in sample.id:
        raise DataError(f"sample {sample.uid}: field 'id': {sample.id!r} cannot be used as a folder name "
                        "(use letters, digits, '_', '-', '.')")
    return sample.id


def write_png(src: Path, dst: Path, sample: Sample) -> None:
    """Copy a PNG as is, or decode and re-encode any other image as PNG (atomically)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        with src.open("rb") as fh:
            is_png = fh.read(8) == _PNG_MAGIC
        if is_png:
            shutil.copyfile(src, tmp)
        else:
            from PIL import Image

            with Image.open(src) as im:
                im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB").save(tmp, format="PNG")
    except Exception as exc:  # noqa: BLE001 - re-raised with the sample named
        tmp.unlink(missing_ok=True)
        raise DataError(f"sample {sample.uid}: field 'images': cannot copy {src} as PNG: {exc}") from exc
    os.replace(tmp, dst)


def link_or_copy(src: Path, dst: Path, sample: Sample) -> None:
    """Hard-link an image into an export folder (copy across file systems)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        try:
            shutil.copyfile(src, dst)
        except OSError as exc:
            raise DataError(f"sample {sample.uid}: field 'images': cannot copy {src}: {exc}") from exc


def _json_id(sample_id: str) -> int | str:
    """MIS test ids are integers; keep that type when the id round-trips exactly."""
    return int(sample_id) if sample_id.isdigit() and str(int(sample_id)) == sample_id else sample_id


#: Keys that decide a record's shape or hold its images: metadata under these names is nested instead.
_RESERVED = frozenset({"id", "split", "question", "target", "category", "sub_category", "metadata",
                       "image", "images", "conversations", "messages"})


def _add_metadata(record: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Metadata keys become record fields (as in the release); colliding ones go under "metadata"."""
    nested = {}
    for key, value in metadata.items():
        if key in _RESERVED or key.startswith("image_path") or key in record:
            nested[key] = value
        else:
            record[key] = value
    if nested:
        record["metadata"] = nested


def _test_record(sample: Sample, paths: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"id": _json_id(sample.id), "category": sample.category,
                              "sub_category": sample.sub_category, "question": sample.question}
    record.update({f"image_path{k}": p for k, p in enumerate(paths, start=1)})
    if sample.target is not None:
        record["target"] = sample.target
    _add_metadata(record, sample.metadata)
    return record


def _train_record(sample: Sample, paths: list[str]) -> dict[str, Any]:
    turns = [{"from": "human", "value": internvl_prompt(sample.question, len(paths))}]
    if sample.target is not None:
        turns.append({"from": "gpt", "value": sample.target})
    record: dict[str, Any] = {"id": _json_id(sample.id), "image": paths, "conversations": turns,
                              "category": sample.category, "sub_category": sample.sub_category}
    _add_metadata(record, {k: v for k, v in sample.metadata.items() if k != "conversations"})
    return record


def write_mis_layout(samples: Iterable[Sample], out: Path, *, overwrite: bool = False) -> Path:
    """Write samples in the MIS release layout under ``out`` and return ``out``.

    Test-style splits become ``mis_<split>.json`` + ``<split>_image/<id>/object<k>.png``; split
    ``train`` becomes ``mis_train.json`` (InternVL/ShareGPT records, target as the gpt turn) with
    images under ``train_image/``. Images are copied (PNG) or converted to PNG. An existing
    ``mis_<split>.json`` is only replaced with ``overwrite=True``; JSON files are written last and
    atomically, so an interrupted write never leaves a half file that `load` would read.
    """
    out = Path(out)
    by_split: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for sample in samples:
        sid = safe_id(sample)
        if not _SAFE_ID.match(sample.split):
            raise DataError(f"sample {sample.uid}: field 'split': {sample.split!r} is not a usable name")
        if sample.uid in seen:
            raise DataError(f"sample {sample.uid}: field 'id': duplicate id in split {sample.split!r}")
        seen.add(sample.uid)
        if sample.split not in by_split:
            target = out / f"mis_{sample.split}.json"
            if target.exists() and not overwrite:
                raise DataError(f"{target} exists; pass overwrite=True to replace it")
            by_split[sample.split] = []
        paths = []
        for k, src in enumerate(sample.image_paths(), start=1):
            rel = f"{sample.split}_image/{sid}/object{k}.png"
            write_png(src, out / rel, sample)
            paths.append(rel)
        record = _train_record(sample, paths) if sample.split == "train" else _test_record(sample, paths)
        by_split[sample.split].append(record)
    out.mkdir(parents=True, exist_ok=True)
    for split, records in by_split.items():
        target = out / f"mis_{split}.json"
        tmp = target.with_name(target.name + ".tmp")
        text = json.dumps(records, indent=2, ensure_ascii=False, default=str)
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, target)
    return out
