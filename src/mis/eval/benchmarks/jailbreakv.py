"""JailBreakV-28K (HF ``JailbreakV-28K/JailBreakV-28k``), the 280-row mini split.

``JailBreakV_28K/mini_JailBreakV_28K.csv`` (older revisions: at the repo root, or
``Mini_JailBreakV_28K.csv``) with columns ``id, jailbreak_query, redteam_query, format, policy,
image_path, from, selected_mini, transfer_from_llm``; ``image_path`` is relative to
``JailBreakV_28K/`` (the full image set comes from a separate archive, often unzipped as
``JailBreakV_28k/``). The model gets the image + ``jailbreak_query``; the judge's user turn is
``jailbreak_query`` as in the authors' ``evaluate_llamaguard_ours.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mis.data._schema import Sample
from mis.errors import DataError
from mis.eval.benchmarks._common import (
    ImageRelease,
    fail,
    find_file,
    image_root,
    read_csv,
    register_release,
    resolve_source,
)
from mis.eval.benchmarks._guarded import GuardOptions, guarded

COLUMNS = ("id", "jailbreak_query", "redteam_query", "format", "policy", "image_path")
CSV_CANDIDATES = (
    "JailBreakV_28K/mini_JailBreakV_28K.csv",
    "mini_JailBreakV_28K.csv",
    "Mini_JailBreakV_28K.csv",
    "JailBreakV_28k/mini_JailBreakV_28K.csv",
)
IMAGE_ROOTS = ("JailBreakV_28K", "JailBreakV_28k", "JailBreakV-28k")


def load_jailbreakv(source: str | Path, *, csv_name: str | None = None) -> list[Sample]:
    """The mini split as samples (split ``mini``, id = the ``id`` column, category = ``policy``)."""
    root = resolve_source(source, allow_patterns=["*.csv", "JailBreakV_28K/*.csv", "JailBreakV_28K/**"])
    path = find_file(root, [csv_name] if csv_name else CSV_CANDIDATES, "JailBreakV mini CSV")
    base = path.parent
    samples: list[Sample] = []
    seen: set[str] = set()
    for line, row in read_csv(path, COLUMNS):
        rid = str(row["id"]).strip()
        if not rid:
            raise fail(path, f"line {line}", "id", "empty")
        if rid in seen:
            raise DataError(f"{path}: line {line}: duplicate id {rid}")
        seen.add(rid)
        if not row["jailbreak_query"].strip():
            raise fail(path, rid, "jailbreak_query", "empty")
        if not row["image_path"].strip():
            raise fail(path, rid, "image_path", "empty")
        image = row["image_path"].strip()
        samples.append(
            Sample(
                id=rid,
                split="mini",
                question=row["jailbreak_query"],
                images=[image],
                category=row["policy"],
                metadata={
                    "format": row["format"],
                    "policy": row["policy"],
                    "redteam_query": row["redteam_query"],
                    "image_path": row["image_path"],
                    "from": row.get("from"),
                    "transfer_from_llm": str(row.get("transfer_from_llm", "")).strip().lower() == "true",
                    "judge_user_text": row["jailbreak_query"],
                },
                root=image_root(_image_folders(base), [image]),
            )
        )
    return samples


def _image_folders(base: Path) -> list[Path]:
    """Where an ``image_path`` may resolve, the card's place (the CSV's ``JailBreakV_28K/``) first.

    The hub holds a few hundred of the images beside the CSVs; the full set is a separate archive that unpacks
    as ``JailBreakV_28k/`` (lower-case k), found beside or inside the hub folder. Each sample takes the first
    folder that holds its own image, so a partial hub copy and the full archive can be used together.
    """
    return [base] + [base / r for r in IMAGE_ROOTS] + [base.parent / r for r in IMAGE_ROOTS]


RELEASE = ImageRelease(
    "JailBreakV_28K",
    "image_path is relative to it; the hub holds a few hundred images, the full set is JailBreakV_28K.zip "
    "(the form on the HF card)",
)
register_release("jailbreakv_mini", RELEASE)


@dataclass(frozen=True)
class JailBreakVOptions(GuardOptions):
    """JailBreakV's own options."""

    policy: str = "llama-guard-3"
    """llama-guard-3 (S1-S14) or jailbreakv (O1-O16; needs the guard in prompt mode)."""


JAILBREAKV_MINI = guarded(
    "jailbreakv_mini",
    "JailBreakV-28K mini (280): jailbreak prompts with images; Llama Guard ASR.",
    lambda data, o: load_jailbreakv(data),
    JailBreakVOptions,
)
