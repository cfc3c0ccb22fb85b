"""MIS as a benchmark of the shared runner: selection, judge, per-sample record and summary."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inspect_ai.scorer import Score, Scorer
from inspect_ai.solver import TaskState

from mis.eval._config import EvalConfig
from mis.eval._judge import judge_identity, mis_judge
from mis.eval._run import Benchmark, Selection, register_benchmark
from mis.eval._tasks import load_samples, prompt_template, to_inspect_sample
from mis.eval._templates import sha256_text
from mis.eval.metrics import summarize


def task_name(splits: list[str] | None) -> str:
    """``mis_hard`` for one split, ``mis`` for all."""
    return "mis" if not splits else "mis_" + "_".join(splits)


def data_fingerprint(samples: list[Any]) -> str:
    """sha256 over each sample's uid, text, labels, image paths and image sizes (cheap, no decoding)."""
    digest = hashlib.sha256()
    for s in samples:
        sizes = [p.stat().st_size if p.is_file() else -1 for p in s.image_paths()]
        item = [s.uid, s.question, s.category, s.sub_category, list(s.images), sizes]
        digest.update(json.dumps(item, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def select(config: EvalConfig) -> Selection:
    """The samples of ``config.split`` (all test splits for ``all``), first ``limit`` of them."""
    splits = None if config.split == "all" else [config.split]
    samples = load_samples(config.data, splits)
    fingerprint = data_fingerprint(samples)  # of the whole selection, so --limit can grow on resume
    if config.limit is not None:
        samples = samples[: config.limit]
    template = prompt_template(config.prompt)
    return Selection(
        task=task_name(splits),
        samples=[to_inspect_sample(s, template) for s in samples],
        fingerprint=fingerprint,
        info={"prompt": config.prompt, "prompt_sha256": sha256_text(template),
              "max_tokens": config.max_tokens, "temperature": config.temperature},
    )


def mis_identity(config: EvalConfig) -> dict[str, Any]:
    """The judge's identity for this config (judge, rubric sha256, decoding)."""
    return judge_identity(config.judge, rubric=config.judge_rubric, max_tokens=config.judge_max_tokens,
                          parse_retries=config.judge_parse_retries)


def mis_scorer(config: EvalConfig) -> Scorer:
    """The MIS judge scorer for this config."""
    return mis_judge(judge=config.judge, base_url=config.judge_base_url, rubric=config.judge_rubric,
                     max_tokens=config.judge_max_tokens, parse_retries=config.judge_parse_retries,
                     max_connections=config.judge_max_connections)


def record(state: TaskState, score: Score) -> dict[str, Any]:
    """One samples.jsonl row (the contract `mis report` reads)."""
    meta = state.metadata
    sm = score.metadata or {}
    return {
        "uid": meta["uid"],
        "id": meta["id"],
        "split": meta["split"],
        "category": meta.get("category"),
        "sub_category": meta.get("sub_category"),
        "question": meta["question"],
        "images": list(meta["images"]),
        "response": state.output.completion,
        "perception": sm.get("perception"),
        "safety": sm.get("safety"),
        "outcome": sm.get("outcome"),
        "explanation": score.explanation or "",
        "judge": sm.get("judge"),
    }


def summary(rows: list[dict[str, Any]], bootstrap: int) -> dict[str, Any]:
    """Overall summary, plus one per split when the run covers several (`splits`)."""
    out = summarize(rows, bootstrap=bootstrap)
    splits = list(dict.fromkeys(r["split"] for r in rows))
    if len(splits) > 1:
        out["splits"] = {sp: summarize([r for r in rows if r["split"] == sp], bootstrap=bootstrap)
                         for sp in splits}
    return out


MIS = register_benchmark(Benchmark(
    name="mis", select=select, scorer=mis_scorer, identity=mis_identity, record=record, summarize=summary,
))


