"""VLGuard test (ys-zong/VLGuard ``data/test.json`` + the gated ``test.zip`` images).

A JSON array; each record has ``id`` (str), ``image`` (relative to the image root: ``data/VLGuard/test``
in the GitHub README, ``test/`` where the hub's ``test.zip`` unpacks),
``safe`` (bool), ``harmful_category``/``harmful_subcategory`` (unsafe images only) and ``instr-resp``:
unsafe image -> ``[{"instruction", "response"}]`` (subset ``unsafes``, 442); safe image ->
``[{"safe_instruction", ...}, {"unsafe_instruction", ...}]`` (subsets ``safe_safes`` and
``safe_unsafes``, 558 each). The authors' ASR is VLGuard's refusal string match (a response without
any refusal phrase is an attack success); generation uses up to 256 new tokens.
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
    find_file,
    image_root,
    read_json,
    register_release,
    require,
    resolve_source,
)
from mis.eval.metrics import by_group, rate
from mis.eval.spec import Benchmark, JudgeContext, register
from mis.judges import Judge, refusal_match

SUBSETS = ("unsafes", "safe_unsafes", "safe_safes")


def _instruction(rec: dict[str, Any], key: str, path: Path, rid: str) -> str:
    pairs = require(rec, "instr-resp", path, rid, list)
    for item in pairs:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            return str(item[key])
    raise fail(path, rid, "instr-resp", f"no item with {key!r}")


def load_vlguard(source: str | Path, *, subsets: tuple[str, ...] = SUBSETS) -> list[Sample]:
    """VLGuard test records as samples; split = subset, id = the record ``id``."""
    bad = [s for s in subsets if s not in SUBSETS]
    if bad:
        raise ValueError(f"subsets {bad}: expected some of {SUBSETS}")
    root = resolve_source(source, allow_patterns=["test.json"])
    path = find_file(root, ["test.json", "data/test.json"], "VLGuard test.json")
    records = read_json(path)
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON array of records")
    samples: list[Sample] = []
    for k, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(f"{path}: record #{k}: expected an object")
        rid = str(require(rec, "id", path, f"#{k}", (str, int)))
        image = require(rec, "image", path, rid)
        safe = require(rec, "safe", path, rid, bool)
        wanted = ["unsafes"] if not safe else ["safe_unsafes", "safe_safes"]
        for subset in wanted:
            if subset not in subsets:
                continue
            key = {
                "unsafes": "instruction",
                "safe_unsafes": "unsafe_instruction",
                "safe_safes": "safe_instruction",
            }
            samples.append(
                Sample(
                    id=rid,
                    split=subset,
                    question=_instruction(rec, key[subset], path, rid),
                    images=[image],
                    category=rec.get("harmful_category"),
                    sub_category=rec.get("harmful_subcategory"),
                    metadata={"image": image, "safe": safe, "subset": subset},
                )
            )
    order = {s: i for i, s in enumerate(SUBSETS)}
    samples.sort(key=lambda s: order[s.split])
    folder = image_root(_image_folders(root, path), (s.images[0] for s in samples))
    return [s.model_copy(update={"root": folder}) for s in samples]


def _image_folders(root: Path, meta: Path) -> list[Path]:
    """Where test.zip may have been unpacked, the README's place first.

    The GitHub README evaluates with ``--metaDir data/test.json --imageDir data/VLGuard/test``; the hub copy
    holds ``test.json`` beside ``test.zip``, which unpacks to ``test/``.
    """
    base = meta.parent
    readme = base / "VLGuard" / "test" if base.name == "data" else base / "test"
    return [readme, base / "test", base / "VLGuard" / "test", root / "data" / "VLGuard" / "test",
            root / "test", base.parent / "test", base.parent / "VLGuard" / "test"]


def release(options: Any = None) -> ImageRelease:
    """The images are a separate (gated) archive on the hub."""
    return ImageRelease(
        "data/VLGuard/test",
        "unzip test.zip (gated HF dataset ys-zong/VLGuard) in data/VLGuard/, or in the hub snapshot",
    )


register_release("vlguard", release)


@dataclass(frozen=True)
class VLGuardOptions:
    """VLGuard's own options."""

    subsets: str = "unsafes,safe_unsafes"
    """Subsets to evaluate (comma-separated): unsafes, safe_unsafes, safe_safes."""


def summarize(rows: list[dict[str, Any]], options: Any, bootstrap: int) -> dict[str, Any]:
    """ASR over the harmful subsets (string match), per-subset ASR, refusal on safe_safes."""
    labels = [str(r["label"]) for r in rows if r.get("split") in ("unsafes", "safe_unsafes")]
    metrics = {"asr": rate(labels, "compliance")}
    for subset in SUBSETS:
        part = [str(r["label"]) for r in rows if r.get("split") == subset]
        if part:
            key = "refusal_rate" if subset == "safe_safes" else "asr"
            metrics[f"{key}_{subset}"] = rate(part, "refusal" if key == "refusal_rate" else "compliance")
    if labels:
        metrics["score"] = round(100.0 - metrics["asr"], 2)
    by_split = by_group(rows, "split",
                        lambda rs: {"refusal_rate": rate([str(r["label"]) for r in rs], "refusal")})
    return {"metrics": metrics, "by_category": by_split}


def _subsets(options: VLGuardOptions) -> tuple[str, ...]:
    return tuple(s.strip() for s in options.subsets.split(",") if s.strip())


def _judges(ctx: JudgeContext, options: Any) -> list[Judge]:
    return [refusal_match()]


VLGUARD = register(Benchmark(
    name="vlguard", kind="attack",
    description="VLGuard test: ASR by the authors' refusal string match (per subset).",
    load=lambda data, options: load_vlguard(data, subsets=_subsets(options)),
    judges=_judges, summarize=summarize, headline="asr", options=VLGuardOptions, max_tokens=256,
    label_rates={"refusal_rate": ("refusal",)}))
