"""The sample browser's data: a small index the page loads at once, and the rest in lazily loaded chunks.

Everything lives in ``OUT/report_files/`` as JavaScript files that call a function the page defines
(``__misIndex(...)``, ``__misChunk(k, ...)``): browsers refuse ``fetch`` of ``file://`` URLs, but load
``<script src>`` from them, so the report works from a plain folder with no server.

- ``index.js``: per sample its id, split, category, question and thumbnail references, and one verdict
  per (model, judge) as small integers: enough to filter, count and search questions without loading
  any response.
- ``chunks/c00000.js`` ...: ``CHUNK`` samples each, with every model's response, verdict details and
  extra fields; the page loads a chunk when one of its samples is opened (or all of them when the user
  searches responses).

A sample is one item of a benchmark (``benchmark`` + ``uid``) shared by every model that answered it;
several judges' verdicts on the same answer are kept side by side (rows carry ``judge``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.report._load import Run
from mis.report._thumbs import ThumbCache

log = logging.getLogger(__name__)

FILES_DIR = "report_files"
CHUNK = 64
#: Outcomes in display order (the MIS enum's values); other labels seen in the data follow.
OUTCOMES: tuple[str, ...] = ("attack_success", "safe_reasoning", "refusal", "hallucination", "unknown")
_OWN = {"uid", "id", "split", "category", "sub_category", "question", "images", "response", "perception",
        "safety", "outcome", "label", "explanation", "judge", "judge_protocol", "model", "task"}
_EXTRA_MAX = 2000


@dataclass
class _Sample:
    uid: str
    group: str
    category: str
    sub_category: str
    question: str
    images: list[str]
    where: str
    verdicts: dict[int, dict[str, Any]] = field(default_factory=dict)  # slot -> detail


@dataclass
class BrowserData:
    """What the browser build wrote and counted (for the page and for tests)."""

    index_path: Path
    chunk_paths: list[Path]
    samples: int
    slots: int
    outcomes: dict[str, int]
    models: list[str]
    groups: list[str]
    categories: list[str]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def resolve_image(path: str, run_dir: Path) -> str:
    """An image path as the report opens it: absolute as written; relative to the run folder, else cwd."""
    p = Path(path)
    if p.is_absolute():
        return str(p)
    beside = run_dir / p
    return str(beside if beside.exists() else p)


def collect(runs: Sequence[Run], thumbs: ThumbCache) -> tuple[list[_Sample], list[tuple[str, str]]]:
    """Samples (first-seen order) with every (model, judge) verdict, and the slot list."""
    samples: dict[tuple[str, str], _Sample] = {}
    slots: dict[tuple[str, str], int] = {}
    mismatched = 0
    for run in runs:
        first = run.results[0]
        samples_file = run.path / "samples.jsonl"
        for row in run.samples:
            uid = _text(row.get("uid") or row.get("id")) or f"line {row['_line']}"
            where = f"{samples_file}:{row['_line']} (sample {uid})"
            split = _text(row.get("split"))
            group = split or first.split or first.benchmark
            if run.benchmark != "mis":
                group = f"{run.benchmark}/{split}" if split else run.benchmark
            key = (run.benchmark, uid)
            images = [resolve_image(p, run.path) for p in row.get("images", [])]
            sample = samples.get(key)
            if sample is None:
                sample = samples[key] = _Sample(
                    uid=uid, group=group, category=_text(row.get("category")),
                    sub_category=_text(row.get("sub_category")), question=_text(row.get("question")),
                    images=images, where=where)
                for path in images:
                    thumbs.add(path, where)
            elif sample.question != _text(row.get("question")):
                mismatched += 1
            model = _text(row.get("model")) or first.model
            judge = _text(row.get("judge")) or first.judge
            protocol = _text(row.get("judge_protocol")) or first.judge_protocol
            judge_id = f"{judge} [{protocol}]" if judge and protocol else judge
            slot = slots.setdefault((model, judge_id), len(slots))
            if slot in sample.verdicts:
                log.warning("%s: a second row for model %s, judge %s; the later one is shown", where, model,
                            judge_id or "-")
            sample.verdicts[slot] = {
                "o": _text(row.get("outcome") or row.get("label")) or "n/a",
                "r": _text(row.get("response")),
                "x": _text(row.get("explanation")),
                "p": _text(row.get("perception")),
                "s": _text(row.get("safety")),
                "e": [[k, _text(v)[:_EXTRA_MAX]] for k, v in row.items()
                      if k not in _OWN and not k.startswith("_") and v not in (None, "", [], {})],
            }
    if mismatched:
        log.warning("%d sample rows share a uid with an earlier run's row but not its question; the first "
                    "question is shown (are the runs on the same data?)", mismatched)
    return list(samples.values()), list(slots)


def chip_names(labels: Sequence[str], limit: int = 14) -> list[str]:
    """Short names for the list's verdict chips: the labels without their common prefix and suffix.

    ``Synthetic-VLM-0-7B``, ``Synthetic-VLM-1-7B`` -> ``0``, ``1``; cuts happen at separators so no word
    is split; names that would collide or vanish keep their label (shortened to ``limit``).
    """
    def cut(text: str, from_end: bool) -> str:
        seps = "-_/ ."
        if from_end:
            i = min((k for k in range(len(text)) if text[k] in seps), default=len(text))
            return text[i:] if i < len(text) else ""
        i = max((k for k in range(len(text)) if text[k] in seps), default=-1)
        return text[: i + 1]

    if len(labels) < 2:
        return [lab if len(lab) <= limit else lab[: limit - 1] + "…" for lab in labels]
    prefix = cut(os.path.commonprefix(list(labels)), False)
    suffix = cut(os.path.commonprefix([lab[::-1] for lab in labels])[::-1], True)
    names = [lab[len(prefix): len(lab) - len(suffix)] for lab in labels]
    if any(not n for n in names) or len(set(names)) < len(names):
        names = list(labels)
    return [n if len(n) <= limit else n[: limit - 1] + "…" for n in names]


def _ordered(values: Sequence[str], first: Sequence[str] = ()) -> list[str]:
    seen = [v for v in dict.fromkeys(values) if v]
    return [v for v in first if v in seen] + sorted(v for v in seen if v not in first)


def _js(call: str, *args: Any) -> str:
    body = ", ".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in args)
    # U+2028/2029 are line terminators in older JS engines; escape them like JSON-in-HTML tools do
    body = body.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"{call}({body});\n"


def write_browser(out: Path, runs: Sequence[Run], labels: Mapping[str, str], thumbs: ThumbCache,
                  *, title: str) -> BrowserData:
    """Write report_files/index.js and chunks/, after making the thumbnails; returns what was written."""
    files = out / FILES_DIR
    if files.exists():
        shutil.rmtree(files)
    (files / "chunks").mkdir(parents=True)
    samples, slots = collect(runs, thumbs)
    thumbs.build()
    models = list(dict.fromkeys(m for m, _ in slots))
    judges = list(dict.fromkeys(j for _, j in slots))
    outcome_counts: dict[str, int] = {}
    for s in samples:
        for v in s.verdicts.values():
            outcome_counts[v["o"]] = outcome_counts.get(v["o"], 0) + 1
    outcomes = _ordered(list(outcome_counts), OUTCOMES)
    groups = _ordered([s.group for s in samples], ("easy", "hard", "real", "benign", "white"))
    categories = _ordered([s.category for s in samples])
    subs = _ordered([s.sub_category for s in samples])
    thumb_list: list[str] = []
    thumb_index: dict[str, int] = {}
    missing: list[list[str]] = []
    missing_index: dict[str, int] = {}

    def image_ref(path: str) -> int:
        ref = thumbs.ref(path)
        if ref is not None:
            if ref not in thumb_index:
                thumb_index[ref] = len(thumb_list)
                thumb_list.append(ref)
            return thumb_index[ref]
        if path not in missing_index:
            missing_index[path] = len(missing)
            missing.append([path, thumbs.problems.get(path, "not shown")])
        return -1 - missing_index[path]

    columns: dict[str, list[Any]] = {"id": [], "g": [], "c": [], "sc": [], "q": [], "im": [], "v": []}
    for s in samples:
        columns["id"].append(s.uid)
        columns["g"].append(groups.index(s.group))
        columns["c"].append(categories.index(s.category) if s.category else -1)
        columns["sc"].append(subs.index(s.sub_category) if s.sub_category else -1)
        columns["q"].append(s.question)
        columns["im"].append([image_ref(p) for p in s.images])
        flat: list[int] = []
        for slot, v in sorted(s.verdicts.items()):
            flat += [slot, outcomes.index(v["o"])]
        columns["v"].append(flat)
    n_chunks = (len(samples) + CHUNK - 1) // CHUNK
    index = {
        "version": 1, "title": title, "chunk": CHUNK, "chunks": n_chunks, "total": len(samples),
        "models": [{"label": labels.get(m, m), "model": m, "chip": chip}
                   for m, chip in zip(models, chip_names([labels.get(m, m) for m in models]), strict=True)],
        "judges": judges, "slots": [[models.index(m), judges.index(j)] for m, j in slots],
        "outcomes": outcomes, "groups": groups, "categories": categories, "subcategories": subs,
        "thumbs": thumb_list, "missing": missing, "s": columns,
    }
    index_path = files / "index.js"
    index_path.write_text(_js("__misIndex", index), encoding="utf-8")
    chunk_paths = []
    for k in range(n_chunks):
        part = samples[k * CHUNK:(k + 1) * CHUNK]
        data = [[[slot, {key: val for key, val in v.items() if key != "o"}]
                 for slot, v in sorted(s.verdicts.items())] for s in part]
        path = files / "chunks" / f"c{k:05d}.js"
        path.write_text(_js("__misChunk", k, data), encoding="utf-8")
        chunk_paths.append(path)
    return BrowserData(index_path=index_path, chunk_paths=chunk_paths, samples=len(samples), slots=len(slots),
                       outcomes=outcome_counts, models=models, groups=groups, categories=categories)
