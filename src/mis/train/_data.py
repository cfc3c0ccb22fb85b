"""Training rows from anything `mis.data.load` reads: target check, general-data mixing, chat messages.

A row is a small dict (uid, image paths, question, target); images are opened by the collator, so
a 4k-sample set costs a few MB until a batch is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mis.data import Sample

__all__ = ["TrainDataError", "build_messages", "data_fingerprint", "load_rows", "mix_rows", "to_row"]

log = logging.getLogger(__name__)

#: Explicit image placeholder inside a question (InternVL/LLaVA convention). Questions with none get
#: every image first, then the text: MIS's layout.
PLACEHOLDER = "<image>"
_PLACEHOLDER_RE = re.compile(r"\s*<image>\s*")


class TrainDataError(ValueError):
    """Bad training data; the message names the source, the sample uid and the field."""


def to_row(sample: Sample, source: str) -> dict[str, Any]:
    """One Sample -> a training row; refuses a sample with no target (nothing to learn)."""
    if not (sample.target or "").strip():
        raise TrainDataError(
            f"{source}: sample {sample.uid}: field 'target' is empty; training needs target text "
            "(MIS train, a labelled export or build output; pick labelled splits with --split)"
        )
    n_placeholders = sample.question.count(PLACEHOLDER)
    if n_placeholders and n_placeholders != len(sample.images):
        raise TrainDataError(
            f"{source}: sample {sample.uid}: field 'question' has {n_placeholders} {PLACEHOLDER} "
            "placeholders "
            f"but field 'images' has {len(sample.images)} images; make them match or remove the placeholders"
        )
    paths = [str(p) for p in sample.image_paths()]
    for p in sample.image_paths():
        if not p.is_file():
            raise TrainDataError(f"{source}: sample {sample.uid}: field 'images': file not found: {p}")
    return {
        "uid": sample.uid,
        "images": paths,
        "question": sample.question,
        "target": sample.target,
        "source": source,
    }


#: `mis.data.validate` problem codes that make a sample untrainable (others, e.g. an unknown
#: category in a general instruction set, do not matter for training).
FATAL_CODES = frozenset(
    {
        "placeholder_mismatch",
        "image_missing",
        "image_corrupt",
        "missing_field",
        "empty_field",
        "bad_shape",
        "bad_type",
        "duplicate_id",
        "not_json",
        "unreadable",
    }
)


def load_rows(source: str, splits: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Load a dataset with `mis.data.load`, check it, and turn every sample into a training row.

    `mis.data.validate` runs first (without decoding images: the collator decodes them anyway) because
    the loader strips ``<image>`` placeholders, after which a placeholder/image mismatch is invisible.
    """
    from mis.data import load, validate

    dataset = load(source, splits=list(splits) if splits else None)
    samples = list(dataset.samples)
    if not samples:
        raise TrainDataError(f"{source}: no samples (splits={list(splits) if splits else 'all'})")
    ids = {s.id for s in samples}
    problems = [
        p
        for p in validate(source, decode_images=False)
        if p.code in FATAL_CODES
        and (p.sample_id is None or str(p.sample_id) in ids)
        and not (p.code == "empty_field" and p.field in ("images", "image"))
    ]  # text-only is fine
    if problems:
        more = (
            f"\n... and {len(problems) - 5} more (see `mis data validate {source}`)"
            if len(problems) > 5
            else ""
        )
        raise TrainDataError("\n".join(str(p) for p in problems[:5]) + more)
    return [to_row(s, str(source)) for s in samples]


def mix_rows(
    main: list[dict[str, Any]], general: list[dict[str, Any]], ratio: float | None, seed: int
) -> list[dict[str, Any]]:
    """Mix general rows into main so they are `ratio` of the result; deterministic for a seed.

    ``ratio=None`` takes every general row. Too few general rows is an error (not a silent lower ratio).
    """
    rng = random.Random(seed)
    if ratio is None:
        chosen = list(general)
    else:
        need = round(ratio / (1 - ratio) * len(main))
        if need > len(general):
            have = len(general) / (len(general) + len(main))
            raise TrainDataError(
                f"general_data: ratio {ratio} needs {need} general samples for {len(main)} main samples but "
                f"only {len(general)} exist; pass --general-ratio {have:.4f} or more general data"
            )
        chosen = rng.sample(general, need)
    mixed = list(main) + chosen
    rng.shuffle(mixed)
    log.info(
        "mixed %d main + %d general samples (%.1f%% general)",
        len(main),
        len(chosen),
        100 * len(chosen) / max(1, len(mixed)),
    )
    return mixed


def build_messages(row: dict[str, Any], with_target: bool = True) -> list[dict[str, Any]]:
    """Structured chat for a row: image blocks then text (or interleaved at explicit placeholders).

    Structured blocks keep TRL and the processor from moving images around (STYLE habit 10).
    """
    question = row["question"]
    n = len(row["images"])
    content: list[dict[str, Any]] = []
    if PLACEHOLDER in question:
        parts = _PLACEHOLDER_RE.split(question)
        for k, part in enumerate(parts):
            if part.strip():
                content.append({"type": "text", "text": part.strip()})
            if k < len(parts) - 1:
                content.append({"type": "image"})
    else:
        content = [{"type": "image"} for _ in range(n)] + [{"type": "text", "text": question}]
    messages = [{"role": "user", "content": content}]
    if with_target:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": row["target"]}]})
    return messages


def data_fingerprint(rows: list[dict[str, Any]]) -> str:
    """sha256 of the records (uid, question, target, image file names+sizes): names the data in the card.

    Image bytes are not hashed (10 GB for MIS train); a changed image with the same size and name
    is not detected.
    """
    h = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r["uid"]):
        images = []
        for p in row["images"]:
            path = Path(p)
            images.append([path.name, path.stat().st_size if path.exists() else -1])
        h.update(
            json.dumps([row["uid"], row["question"], row["target"], images], ensure_ascii=False).encode()
        )
    return h.hexdigest()
