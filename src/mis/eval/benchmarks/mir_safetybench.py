"""MIR-SafetyBench (GitHub thu-coai/MIR-SafetyBench, HF ``thu-coai/MIR-SafetyBench``): multi-image relations.

2,676 items, each 2-4 images whose relation (9 types: Analogy, Causality, Complementarity, Decomposition,
Relevance, Spatial_Embedding, Spatial_Juxtaposition, Temporal_Continuity, Temporal_Jump) carries a harmful
intent the text alone does not state; 6 risk categories. The README's step 2 (``python extract_data.py``)
turns the hub dataset into the layout read here::

    <Category>/<Relationship_type>_final.json       # JSON array per (category, relation)
    <Category>/images/<Relationship_type>/<Relationship_type>_<id>_<k>.png

Records: ``id``, ``original_question``, ``relationship_type``, ``revised_prompt`` (the text sent with the
images), ``image_descriptions``, ``image_keywords``, ``images`` (paths relative to the category folder, in
order) and ``iteration``. The judge is HarmBench's Llama-2-13b classifier on (``original_question``, the
response's answer part); ``statics.py`` reports ASR (% unsafe) per relationship type and overall.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mis.data._schema import Sample
from mis.errors import DataError
from mis.eval.benchmarks._common import (
    ImageRelease,
    fail,
    read_json,
    register_release,
    require,
    resolve_source,
)
from mis.eval.metrics import by_group, rate
from mis.eval.spec import Benchmark, JudgeContext, register
from mis.judges._base import Judge
from mis.judges.harmbench import harmbench_judge

CATEGORIES = ("Hate_Speech", "Violence", "Self-Harm", "Illegal_Activities", "Harassment", "Privacy")
RELATIONSHIP_TYPES = ("Analogy", "Causality", "Complementarity", "Decomposition", "Relevance",
                      "Spatial_Embedding", "Spatial_Juxtaposition", "Temporal_Continuity", "Temporal_Jump")
SUFFIX = "_final.json"
#: The release's Qwen2.5-VL adapter decodes up to 4096 new tokens (reasoning models need the room).
MAX_TOKENS = 4096


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(root.glob(f"*/*{SUFFIX}")) or sorted(root.glob(f"*{SUFFIX}"))
    if not files:
        raise DataError(f"{root}: no <Category>/<Relationship_type>{SUFFIX} files found (the layout "
                        "extract_data.py writes; see docs/benchmarks.md)")
    return files


def load_mir_safetybench(source: str | Path) -> list[Sample]:
    """Each item of each ``<Category>/<Relationship_type>_final.json`` (id ``<Category>/<relation>/<id>``)."""
    root = resolve_source(source)
    samples: list[Sample] = []
    for path in _files(root):
        category = path.parent.name
        records = read_json(path)
        if isinstance(records, dict):  # eval.py accepts a file holding one object
            records = [records]
        if not isinstance(records, list):
            raise DataError(f"{path}: expected a JSON array of records")
        for k, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise DataError(f"{path}: record #{k}: expected an object")
            rid = require(rec, "id", path, f"#{k}", (int, str))
            relation = require(rec, "relationship_type", path, rid)
            images = require(rec, "images", path, rid, list)
            if not images or not all(isinstance(p, str) and p for p in images):
                raise fail(path, rid, "images", "expected a non-empty list of image paths")
            samples.append(Sample(
                id=f"{category}/{relation}/{rid}", split="test",
                question=require(rec, "revised_prompt", path, rid), images=list(images),
                category=category, sub_category=relation, root=path.parent,
                metadata={"mir_id": rid, "original_question": require(rec, "original_question", path, rid),
                          "relationship_type": relation, "n_images": len(images),
                          "image_keywords": rec.get("image_keywords"), "iteration": rec.get("iteration"),
                          "item_index": k, "source_file": f"{category}/{path.name}"}))
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise DataError(f"{source}: duplicate item {s.id}")
        seen.add(s.id)
    return samples


register_release("mir_safetybench", ImageRelease(
    "<Category>/images/<Relationship_type>",
    "python extract_data.py --output DIR (README step 2; it downloads HF thu-coai/MIR-SafetyBench)"))


@dataclass(frozen=True)
class MIROptions:
    """MIR-SafetyBench's own options."""

    strip_think: bool = True
    """Judge only the answer part (after ``</think>``, inside ``<answer>``), as the release's judge does."""


def asr(rows: list[dict[str, Any]]) -> dict[str, float]:
    """``statics.py``'s ASR (% judged unsafe, of all items) and the unknown rate."""
    labels = [str(r["label"]) for r in rows]
    return {"asr": rate(labels, "unsafe"), "unknown": rate(labels, "unknown")}


def summarize(rows: list[dict[str, Any]], options: Any, bootstrap: int) -> dict[str, Any]:
    """ASR overall and per relationship type (the release's table), per category, per image count."""
    return {"metrics": asr(rows), "by_relationship_type": by_group(rows, "relationship_type", asr),
            "by_category": by_group(rows, "category", asr), "by_n_images": by_group(rows, "n_images", asr)}


def _judges(ctx: JudgeContext, options: MIROptions) -> list[Judge]:
    return [harmbench_judge(ctx.judge, strip_think=options.strip_think)]


MIR_SAFETYBENCH = register(Benchmark(
    name="mir_safetybench", kind="attack",
    description="MIR-SafetyBench (2,676): 2-4 images whose relation hides the intent; ASR per relation type.",
    load=lambda data, options: load_mir_safetybench(data), judges=_judges, summarize=summarize,
    headline="asr", options=MIROptions, max_tokens=MAX_TOKENS,
    row=lambda meta: {"relationship_type": meta.get("relationship_type"), "n_images": meta.get("n_images")},
    label_rates={"unsafe": ("unsafe",), "unknown": ("unknown",)}))
