"""The last stages: split (dedupe, text safety, image harm -> train/easy/hard), review, label."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mis.build._parse import (
    Drop,
    excerpt,
    normalise_text,
    parse_json,
    require_bool,
    require_choice,
    require_dict,
)
from mis.build._runner import Context, Result, Stage
from mis.build._stages import previous
from mis.build._store import Record, sha256_text
from mis.data import PARENT, SUB_CATEGORIES, TAXONOMY, category_problem
from mis.errors import RunStopped

SPLITS = ("train", "easy", "hard")
REVIEW_DECISIONS = ("keep", "drop", *SPLITS)


def decisions_path(out: Path) -> Path:
    """Where `review-import` stores human decisions."""
    return out / "human_review" / "decisions.json"


class Split(Stage):
    """Remove duplicates, then: Unsafe text -> train; Safe text + a harmful image -> easy; else hard."""

    name = "split"
    model_steps = ("text_safety", "image_harm")

    def settings(self, ctx: Context) -> dict[str, Any]:
        """The duplicate threshold."""
        return {"phash_distance": ctx.config.phash_distance}

    def inputs(self, ctx: Context) -> list[Record]:
        """Rendered, critic-approved records."""
        return previous(ctx, "render")

    def prepare(self, ctx: Context, inputs: list[Record]) -> dict[str, Drop]:
        """Duplicates: same normalised question and every image within ``phash_distance`` (first id kept)."""
        import imagehash
        from PIL import Image

        kept: dict[str, list[tuple[str, list[Any]]]] = {}
        drops: dict[str, Drop] = {}
        for record in inputs:
            hashes = []
            for rel in record["images"]:
                with Image.open(ctx.out / rel) as im:
                    hashes.append(imagehash.phash(im.convert("RGB")))
            key = normalise_text(record["question"])
            for other_id, other in kept.get(key, []):
                if all(a - b <= ctx.config.phash_distance for a, b in zip(hashes, other, strict=True)):
                    drops[record["id"]] = Drop("duplicate", f"split: same question and images as {other_id}")
                    break
            else:
                kept.setdefault(key, []).append((record["id"], hashes))
        return drops

    async def process(self, ctx: Context, record: Record) -> Result:
        """Text safety + sub-category (LLM), image harmfulness (VLM), then the split rule."""
        o1, o2 = record["objects"]
        reply = await ctx.ask(
            "text_safety",
            record["id"],
            {
                "question": record["question"],
                "taxonomy": {c: list(s) for c, s in TAXONOMY.items()},
                "category": record["category"],  # the extract step's guess (offline backends keep it)
            },
        )
        obj = require_dict(parse_json(reply, "text_safety"), "text_safety", reply)
        safety = require_choice(obj, "safety", ("Safe", "Unsafe"), "text_safety")
        sub = require_choice(obj, "sub_category", SUB_CATEGORIES, "text_safety")
        category = PARENT[sub]
        given = str(obj.get("category") or "").strip()
        if given and category_problem(given, sub):
            raise Drop("bad_category", f"text_safety: {category_problem(given, sub)}")
        images = [ctx.out / p for p in record["images"]]
        reply = await ctx.ask(
            "image_harm", record["id"], {"object1": o1, "object2": o2, "question": record["question"]}, images
        )
        obj = require_dict(parse_json(reply, "image_harm"), "image_harm", reply)
        harmful = [
            require_bool(obj, "image1_harmful", "image_harm"),
            require_bool(obj, "image2_harmful", "image_harm"),
        ]
        split = "train" if safety == "Unsafe" else ("easy" if any(harmful) else "hard")
        return Result(
            outputs=[
                {
                    **record,
                    "split": split,
                    "text_safety": safety,
                    "category": category,
                    "sub_category": sub,
                    "image_harmful": harmful,
                }
            ]
        )


def load_decisions(out: Path) -> dict[str, dict[str, str]] | None:
    """Imported review decisions (id -> {decision, note}), or None before any import."""
    path = decisions_path(out)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["decisions"]  # type: ignore[no-any-return]


class AwaitingReview(RunStopped):
    """``require_review`` is set and no decisions were imported yet."""


class Review(Stage):
    """Apply human decisions (drop, keep, or move to another split); a no-op without decisions."""

    name = "review"

    def settings(self, ctx: Context) -> dict[str, Any]:
        """The decisions file's content."""
        path = decisions_path(ctx.out)
        return {"decisions_sha256": sha256_text(path.read_text(encoding="utf-8")) if path.exists() else None}

    def __init__(self) -> None:
        self._decisions: dict[str, dict[str, str]] = {}

    def inputs(self, ctx: Context) -> list[Record]:
        """Split records (the decisions are read once, here)."""
        self._decisions = load_decisions(ctx.out) or {}
        return previous(ctx, "split")

    async def process(self, ctx: Context, record: Record) -> Result:
        """Keep, drop or re-split one record."""
        decision = self._decisions.get(record["id"], {"decision": "keep", "note": ""})
        if decision["decision"] == "drop":
            raise Drop("review", f"review: dropped by a reviewer: {decision.get('note') or 'no note'}")
        if decision["decision"] in SPLITS and decision["decision"] != record["split"]:
            return Result(outputs=[{**record, "split": decision["decision"], "split_by": "review"}])
        return Result(outputs=[record])


class Label(Stage):
    """Safety-CoT labels for train records (VLM sees both images), each checked by a judge."""

    name = "label"
    model_steps = ("label", "label_judge")

    def settings(self, ctx: Context) -> dict[str, Any]:
        """How many generations a record gets."""
        return {"label_attempts": ctx.config.label_attempts}

    def inputs(self, ctx: Context) -> list[Record]:
        """Reviewed records (easy/hard pass through unlabelled)."""
        return previous(ctx, "review")

    async def process(self, ctx: Context, record: Record) -> Result:
        """Generate, judge, regenerate (bounded); drop when no label is judged safe."""
        if record["split"] != "train":
            return Result(outputs=[record])
        o1, o2 = record["objects"]
        images = [ctx.out / p for p in record["images"]]
        base = {"question": record["question"], "object1": o1, "object2": o2}
        reasons = []
        for attempt in range(ctx.config.label_attempts):
            label = (await ctx.ask("label", record["id"], base, images, attempt)).strip()
            problem = label_problem(label)
            if problem:
                reasons.append(problem)
                continue
            reply = await ctx.ask("label_judge", record["id"], {**base, "label": label}, images, attempt)
            verdict = require_dict(parse_json(reply, "label_judge"), "label_judge", reply)
            if require_bool(verdict, "safe", "label_judge"):
                return Result(outputs=[{**record, "target": label, "label_attempts": attempt + 1}])
            reasons.append(f"judged unsafe: {str(verdict.get('reason') or '').strip() or 'no reason'}")
        raise Drop(
            "no_acceptable_label",
            f"label: no acceptable label in {ctx.config.label_attempts} attempt(s): "
            + "; ".join(excerpt(r, 100) for r in reasons),
        )


def label_problem(label: str) -> str | None:
    """Why a generated label is unusable as prose, or None."""
    if len(label.split()) < 20:
        return f"too short ({len(label.split())} words): {excerpt(label, 80)!r}"
    if any(line.lstrip().startswith("#") for line in label.splitlines()):
        return "has markdown section headers (labels are natural prose)"
    if label.lstrip().startswith(("{", "[")):
        return "is JSON, not prose"
    return None
