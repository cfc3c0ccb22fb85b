"""`mis judge`: responses produced elsewhere, in the authors' JSONL format, judged like `mis eval`.

Each line: ``question``, ``response``, ``image_path1``, ``image_path2`` [, ``image_path3`` ...],
``category`` and optionally ``sub_category`` and ``id``. Image paths are relative to ``--data`` (the
MIS test root, e.g. ``hard_image/17/object1.png``); the split is read from that prefix when present.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.dataset import Sample as InspectSample
from inspect_ai.model import ChatMessageUser

from mis._util.io import read_jsonl
from mis.errors import DataError
from mis.eval._samples import GATE_HINT, ImagePolicy, shared_gate_cache
from mis.eval.benchmarks._common import local_path

_SPLIT_PREFIX = re.compile(r"^(?P<split>[A-Za-z0-9]+)_image/")
REQUIRED = ("question", "response", "image_path1", "image_path2")


@dataclass(frozen=True)
class Responses:
    """Responses read from a file, as inspect samples, with the task name and the file's fingerprint."""

    task: str
    samples: list[InspectSample]
    fingerprint: str
    invalid: list[dict[str, Any]] = field(default_factory=list)


def read_responses(path: Path, data: str, *, limit: int | None = None,
                   policy: ImagePolicy | None = None) -> Responses:
    """Parse and check the responses file; errors name the file, line, sample and field.

    Every image goes through the image gate (inside ``data``, a whole image): with the policy ``stop`` a
    failing one is an error, with ``skip`` its sample is left out and listed in ``Responses.invalid``.
    """
    from mis.data import ImageGate

    policy = policy or ImagePolicy()
    path, root = Path(path), local_path(data)
    if not path.is_file():
        raise DataError(f"{path}: responses file not found")
    cache = policy.cache if policy.cache is not None else shared_gate_cache(root)
    gate = ImageGate(root, allow_outside=policy.allow_outside, cache=cache)
    records: list[tuple[int, dict[str, Any], str, str, str, list[str]]] = []
    seen: dict[str, int] = {}
    for lineno, rec in read_jsonl(path):
        where = f"{path}:{lineno}"
        for name in REQUIRED:
            if not isinstance(rec.get(name), str):
                raise DataError(f"{where}: field {name}: missing or not a string")
        rels = [rec[f"image_path{k}"] for k in range(1, 10) if f"image_path{k}" in rec]
        m = _SPLIT_PREFIX.match(rels[0])
        split = m.group("split") if m else "responses"
        sid = str(rec.get("id", lineno))
        uid = f"{split}/{sid}"
        if uid in seen:
            raise DataError(f"{where}: sample {uid}: duplicate of line {seen[uid]} (field id)")
        seen[uid] = lineno
        records.append((lineno, rec, split, sid, uid, rels))
    # every image through the gate before any request, in a few threads (as mis eval does)
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        checked = iter(list(pool.map(gate.check, [p for *_, rels in records for p in rels])))
    samples: list[InspectSample] = []
    invalid: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    for lineno, rec, split, sid, uid, rels in records:
        where = f"{path}:{lineno}"
        checks = [next(checked) for _ in rels]
        failed = [f"{where}: sample {uid}: field image_path{k}: {c.message}"
                  for k, c in enumerate(checks, 1) if not c.ok]
        if failed and policy.on_invalid == "stop":
            gate.save()
            raise DataError(f"{failed[0]}. {GATE_HINT}")
        images = [str(c.resolved) for c in checks]
        meta: dict[str, Any] = {
            "uid": uid, "id": sid, "split": split, "category": rec.get("category"),
            "sub_category": rec.get("sub_category"), "question": rec["question"], "images": images,
            "response": rec["response"], "source": {"line": lineno},
        }
        if failed:
            kept = ("uid", "id", "split", "category", "sub_category", "question")
            invalid.append({**{k: meta[k] for k in kept}, "images": rels, "response": rec["response"],
                            "label": "invalid", "outcome": "invalid", "judge_error": failed[0]})
            continue
        if all(c.sha256 for c in checks):
            meta["image_sha256"] = [c.sha256 for c in checks]  # read by the gate: not hashed again
        digest.update(json.dumps(rec, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        samples.append(InspectSample(input=[ChatMessageUser(content=rec["question"])], id=uid, metadata=meta))
    gate.save()
    if not samples:
        extra = f" ({len(invalid)} invalid)" if invalid else ""
        raise DataError(f"{path}: no responses to judge{extra}")
    splits = sorted({str(s.metadata["split"]) for s in samples if s.metadata})
    task = "mis_" + splits[0] if len(splits) == 1 and splits[0] != "responses" else "mis"
    return Responses(task=task, samples=samples[:limit] if limit else samples, fingerprint=digest.hexdigest(),
                     invalid=invalid)
