"""SIUO (sinwang20/SIUO): safe inputs, unsafe output; 167 (image, question) pairs.

``data/siuo_gen.json`` is a JSON array with ``question_id`` (int), ``image`` (file name under
``data/images/``), ``question``, ``category``, ``safety_warning`` and ``reference_answer``. The
judge (SIUO's GPT-4V protocol; GPT-4o in the paper) sees the image with the query, the safety
warning, the reference answer and the response, and answers ``[Safety Judgement:] True|False``.
Metric: safe rate (majority over the responses of a question when run with several epochs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mis.data._schema import Sample
from mis.eval.benchmarks._common import BenchmarkDataError, find_file, read_json, require, resolve_source

FIELDS = ("image", "question", "category", "safety_warning", "reference_answer")


def load_siuo(source: str | Path) -> list[Sample]:
    """SIUO generation records as samples (split ``gen``, id = ``question_id``)."""
    root = resolve_source(source)
    path = find_file(root, ["data/siuo_gen.json", "siuo_gen.json"], "SIUO siuo_gen.json")
    records = read_json(path)
    if not isinstance(records, list):
        raise BenchmarkDataError(f"{path}: expected a JSON array of records")
    image_dir = next(
        (d for d in (path.parent / "images", root / "images", root / "data" / "images") if d.is_dir()),
        path.parent / "images",
    )
    samples: list[Sample] = []
    seen: set[int] = set()
    for k, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise BenchmarkDataError(f"{path}: record #{k}: expected an object")
        qid = require(rec, "question_id", path, f"#{k}", int)
        if qid in seen:
            raise BenchmarkDataError(f"{path}: record {qid}: duplicate question_id")
        seen.add(qid)
        values = {f: require(rec, f, path, qid) for f in FIELDS}
        samples.append(
            Sample(
                id=str(qid),
                split="gen",
                question=values["question"],
                images=[str(image_dir / values["image"])],
                category=values["category"],
                metadata={
                    "question_id": qid,
                    "image": values["image"],
                    "safety_warning": values["safety_warning"],
                    "reference_answer": values["reference_answer"],
                },
            )
        )
    return samples


def siuo_task(
    data: str,
    *,
    judge: str | None = None,
    judge_base_url: str | None = None,
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Any:
    """SIUO scored by its judge protocol (safe rate) + the string-match refusal cross-check."""
    from mis.eval.benchmarks._tasks import benchmark_task
    from mis.eval.benchmarks.scorers import refusal_match, siuo_judge

    return benchmark_task(
        "siuo",
        load_siuo(data),
        [siuo_judge(judge, judge_base_url), refusal_match()],
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
    )
