"""MOSSBench (xirui-li/MOSSBench): 300 benign queries whose images trigger over-sensitivity.

``data/images_information/information.json`` is a JSON object keyed by pid strings; each value has
``pid``, ``image`` (``images/<pid>.png`` relative to ``data/``), ``question``, ``short description``,
``description`` and ``metadata`` {``over``: "type 1|2|3", ``human``, ``child``, ``syn``, ``ocr``,
``harm``}. Types: 1 Exaggerated Risk, 2 Negated Harm, 3 Counterintuitive Interpretation. The judge
(GPT-4-turbo in the authors' code) sees the image, question and response and gives a refusal score.
Metric: refusal rate (lower is better), overall and per type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mis.data._schema import Sample
from mis.eval.benchmarks._common import fail, find_file, read_json, require, resolve_source

TYPE_NAMES = {
    "type 1": "Exaggerated Risk",
    "type 2": "Negated Harm",
    "type 3": "Counterintuitive Interpretation",
}


def load_mossbench(source: str | Path, *, contrast: bool = False) -> list[Sample]:
    """MOSSBench records as samples (split ``oversensitivity`` or ``contrast``, id = pid)."""
    root = resolve_source(source)
    folder = "data_contrast" if contrast else "data"
    path = find_file(
        root,
        [
            f"{folder}/images_information/information.json",
            "images_information/information.json",
            "information.json",
        ],
        "MOSSBench information.json",
    )
    data_dir = path.parent.parent
    data = read_json(path)
    if not isinstance(data, dict):
        raise fail(path, "(file)", "(root)", "expected a JSON object keyed by pid strings")
    samples: list[Sample] = []
    for key, rec in data.items():
        if not isinstance(rec, dict):
            raise fail(path, key, "(record)", "expected an object")
        image = require(rec, "image", path, key)
        question = require(rec, "question", path, key)
        meta = require(rec, "metadata", path, key, dict)
        over = meta.get("over")
        if not contrast and over not in TYPE_NAMES:
            raise fail(path, key, "metadata.over", f"expected one of {sorted(TYPE_NAMES)}, got {over!r}")
        samples.append(
            Sample(
                id=str(rec.get("pid", key)),
                split="contrast" if contrast else "oversensitivity",
                question=question,
                images=[str(data_dir / image)],
                category=TYPE_NAMES.get(str(over), str(over)),
                metadata={
                    "pid": str(rec.get("pid", key)),
                    "over": over,
                    "short_description": rec.get("short description"),
                    "human": meta.get("human"),
                    "child": meta.get("child"),
                    "syn": meta.get("syn"),
                    "ocr": meta.get("ocr"),
                    "harm": meta.get("harm"),
                },
            )
        )
    samples.sort(key=lambda s: (len(s.id), s.id))
    return samples


def mossbench_task(
    data: str,
    *,
    contrast: bool = False,
    judge: str | None = None,
    judge_base_url: str | None = None,
    image_mode: str = "original",
    missing: str = "error",
    limit: int | None = None,
    max_tokens: int = 1024,
) -> Any:
    """MOSSBench scored by its refusal judge (refusal rate) + the string-match refusal cross-check."""
    from mis.eval.benchmarks._tasks import benchmark_task
    from mis.eval.benchmarks.scorers import mossbench_judge, refusal_match

    return benchmark_task(
        "mossbench",
        load_mossbench(data, contrast=contrast),
        [mossbench_judge(judge, judge_base_url), refusal_match()],
        image_mode=image_mode,
        missing=missing,
        limit=limit,
        max_tokens=max_tokens,
    )
