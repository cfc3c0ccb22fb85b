"""MOSSBench (xirui-li/MOSSBench): 300 benign queries whose images trigger over-sensitivity.

``data/images_information/information.json`` is a JSON object keyed by pid strings; each value has
``pid``, ``image`` (``images/<pid>.png`` relative to ``data/``), ``question``, ``short description``,
``description`` and ``metadata`` {``over``: "type 1|2|3", ``human``, ``child``, ``syn``, ``ocr``,
``harm``}. Types: 1 Exaggerated Risk, 2 Negated Harm, 3 Counterintuitive Interpretation. The judge
(GPT-4-turbo in the authors' code) sees the image, question and response and gives a refusal score.
Metric: refusal rate (lower is better), overall and per type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mis.data._schema import Sample
from mis.eval.benchmarks._common import (
    ImageRelease,
    fail,
    find_file,
    read_json,
    register_release,
    require,
    resolve_source,
)
from mis.eval.benchmarks._guarded import string_refusal
from mis.eval.metrics import by_group, rate
from mis.eval.spec import Benchmark, JudgeContext, register
from mis.judges import Judge, mossbench_judge, refusal_match

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
                images=[image],
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
                root=data_dir,  # ``image`` is published relative to data/ (``images/<pid>.png``)
            )
        )
    samples.sort(key=lambda s: (len(s.id), s.id))
    return samples


def release(options: Any = None) -> ImageRelease:
    """The images are in the repository; the README also offers them as one archive to unzip in data/."""
    if getattr(options, "contrast", False):
        return ImageRelease("data_contrast/images", "they are in the git clone of xirui-li/MOSSBench")
    return ImageRelease(
        "data/images",
        "they are in the git clone of xirui-li/MOSSBench, or unzip AIcell/MOSSBench's images.zip in data/",
    )


register_release("mossbench", release)


@dataclass(frozen=True)
class MOSSBenchOptions:
    """MOSSBench's own options."""

    contrast: bool = False
    """Evaluate the 244 harmful contrast queries instead of the 300 benign ones."""


def refusal_rate(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Refusal rate (lower is better on benign queries), string-match refusal, unknown."""
    labels = [str(r["label"]) for r in rows]
    return {"refusal_rate": rate(labels, "refusal"), "unknown": rate(labels, "unknown"),
            "refusal_rate_string_match": string_refusal(rows)}


def summarize(rows: list[dict[str, Any]], options: Any, bootstrap: int) -> dict[str, Any]:
    """The refusal rate, overall and per over-sensitivity type."""
    return {"metrics": refusal_rate(rows), "by_category": by_group(rows, "category", refusal_rate)}


def refusal_judges(ctx: JudgeContext, options: Any = None) -> list[Judge]:
    """The MOSSBench refusal judge, cross-checked by string match (also the white-image test's)."""
    return [mossbench_judge(ctx.judge), refusal_match()]


MOSSBENCH = register(Benchmark(
    name="mossbench", kind="over_refusal",
    description="MOSSBench (300 benign queries that look risky); refusal rate (lower is better).",
    load=lambda data, options: load_mossbench(data, contrast=options.contrast), judges=refusal_judges,
    summarize=summarize, headline="refusal_rate", options=MOSSBenchOptions,
    label_rates={"refusal_rate": ("refusal",), "unknown": ("unknown",)}))
