"""`mis judge`: responses produced elsewhere, in the authors' JSONL format, judged like `mis eval`.

Each line: ``question``, ``response``, ``image_path1``, ``image_path2`` [, ``image_path3`` ...],
``category`` and optionally ``sub_category`` and ``id``. Image paths are relative to ``--data`` (the
MIS test root, e.g. ``hard_image/17/object1.png``); the split is read from that prefix when present.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai.dataset import Sample as InspectSample
from inspect_ai.model import ChatMessageUser

from mis._util.io import read_jsonl
from mis.errors import DataError

_SPLIT_PREFIX = re.compile(r"^(?P<split>[A-Za-z0-9]+)_image/")
REQUIRED = ("question", "response", "image_path1", "image_path2")


@dataclass(frozen=True)
class Responses:
    """Responses read from a file, as inspect samples, with the task name and the file's fingerprint."""

    task: str
    samples: list[InspectSample]
    fingerprint: str


def read_responses(path: Path, data: str, *, limit: int | None = None) -> Responses:
    """Parse and check the responses file; errors name the file, line and field."""
    path, root = Path(path), Path(data)
    if not path.is_file():
        raise DataError(f"{path}: responses file not found")
    samples: list[InspectSample] = []
    seen: dict[str, int] = {}
    digest = hashlib.sha256()
    for lineno, rec in read_jsonl(path):
        where = f"{path}:{lineno}"
        for name in REQUIRED:
            if not isinstance(rec.get(name), str):
                raise DataError(f"{where}: field {name}: missing or not a string")
        rels = [rec[f"image_path{k}"] for k in range(1, 10) if f"image_path{k}" in rec]
        images = [str((root / p).resolve()) for p in rels]
        for field_k, p in enumerate(images, 1):
            if not Path(p).is_file():
                raise DataError(f"{where}: field image_path{field_k}: file not found: {p}")
        m = _SPLIT_PREFIX.match(rels[0])
        split = m.group("split") if m else "responses"
        sid = str(rec.get("id", lineno))
        uid = f"{split}/{sid}"
        if uid in seen:
            raise DataError(f"{where}: sample {uid}: duplicate of line {seen[uid]} (field id)")
        seen[uid] = lineno
        digest.update(json.dumps(rec, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        meta: dict[str, Any] = {
            "uid": uid, "id": sid, "split": split, "category": rec.get("category"),
            "sub_category": rec.get("sub_category"), "question": rec["question"], "images": images,
            "response": rec["response"], "source": {"line": lineno},
        }
        samples.append(InspectSample(input=[ChatMessageUser(content=rec["question"])], id=uid, metadata=meta))
    if not samples:
        raise DataError(f"{path}: no responses")
    splits = sorted({str(s.metadata["split"]) for s in samples if s.metadata})
    task = "mis_" + splits[0] if len(splits) == 1 and splits[0] != "responses" else "mis"
    return Responses(task=task, samples=samples[:limit] if limit else samples, fingerprint=digest.hexdigest())

