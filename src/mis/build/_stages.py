"""The first three stages: extract (seeds -> questions with two objects), refine, render (+ critic)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from mis.build._parse import Drop, excerpt, parse_json, require_bool, require_dict, require_str
from mis.build._protocol import ImageRequest
from mis.build._runner import Context, Result, Stage, drop_row
from mis.build._seeds import read_seeds
from mis.build._store import Record, StageStore, stable_hash
from mis.data import CATEGORIES

_FIRST = re.compile(r"\bfirst image\b", re.IGNORECASE)
_SECOND = re.compile(r"\bsecond image\b", re.IGNORECASE)


def previous(ctx: Context, stage: str) -> list[Record]:
    """Committed records of an earlier stage."""
    return StageStore(ctx.out, stage).records()


class Extract(Stage):
    """Seed -> 2-3 questions, each naming two concrete objects, with a category (LLM or VLM)."""

    name = "extract"
    model_steps = ("extract", "extract_image")

    def settings(self, ctx: Context) -> dict[str, Any]:
        """Questions per seed and which seed files."""
        return {"questions_per_seed": ctx.config.questions_per_seed}

    def inputs(self, ctx: Context) -> list[Record]:
        """The seeds."""
        config = ctx.config
        return read_seeds(config.seeds, config.max_seeds, allow_outside=config.allow_outside_root)

    async def process(self, ctx: Context, record: Record) -> Result:
        """Ask for questions, keep each valid one, drop each invalid one with its reason."""
        step = "extract_image" if record["kind"] == "image" else "extract"
        images = [Path(record["image"])] if record["kind"] == "image" else []
        variables = {
            "query": record["query"],
            "category": record["category"],
            "n": ctx.config.questions_per_seed,
            "categories": list(CATEGORIES),
        }
        reply = await ctx.ask(step, record["id"], variables, images)
        value = parse_json(reply, step)
        items = value.get("questions") if isinstance(value, dict) else value
        if not isinstance(items, list) or not items:
            raise Drop("malformed", f"{step}: expected a non-empty 'questions' list: {excerpt(reply)!r}")
        result = Result()
        for k, item in enumerate(items[: ctx.config.questions_per_seed], start=1):
            qid = f"{record['id']}-q{k}"
            base = {"id": qid, "seed_id": record["id"], "seed_kind": record["kind"]}
            try:
                item = require_dict(item, step, reply)
                question = require_str(item, "question", step)
                objects = [require_str(item, "object1", step), require_str(item, "object2", step)]
                category = str(item.get("category") or record["category"] or "").strip()
                if category not in CATEGORIES:
                    raise Drop(
                        "bad_category", f"{step}: category {category!r} is not one of {list(CATEGORIES)}"
                    )
                if objects[0].lower() == objects[1].lower():
                    raise Drop("one_object", f"{step}: both objects are {objects[0]!r}")
            except Drop as drop:
                result.drops.append(drop_row(self.name, {**base, "item": item}, drop, qid))
                continue
            result.outputs.append(
                {
                    **base,
                    "category": category,
                    "question": question,
                    "objects": objects,
                    "seed_question": question,
                }
            )
        return result


class Refine(Stage):
    """Drop non-harmful / one-object questions; concrete objects; image references; detoxify (LLM)."""

    name = "refine"
    model_steps = ("refine",)

    def inputs(self, ctx: Context) -> list[Record]:
        """Extracted questions."""
        return previous(ctx, "extract")

    async def process(self, ctx: Context, record: Record) -> Result:
        """One refine call; the refined question must reference both images."""
        o1, o2 = record["objects"]
        reply = await ctx.ask(
            "refine", record["id"], {"question": record["question"], "object1": o1, "object2": o2}
        )
        obj = require_dict(parse_json(reply, "refine"), "refine", reply)
        if not require_bool(obj, "keep", "refine"):
            raise Drop("not_kept", f"refine: {str(obj.get('reason') or 'no reason given').strip()}")
        question = require_str(obj, "question", "refine")
        objects = [require_str(obj, "object1", "refine"), require_str(obj, "object2", "refine")]
        if not (_FIRST.search(question) and _SECOND.search(question)):
            raise Drop(
                "no_image_reference",
                f"refine: question does not refer to both the first and second image: {excerpt(question)!r}",
            )
        leaked = [o for o in objects if len(o) > 3 and o.lower() in question.lower()]
        if leaked:
            raise Drop("object_named", f"refine: question still names {leaked}: {excerpt(question)!r}")
        return Result(outputs=[{**record, "question": question, "objects": objects}])


class Render(Stage):
    """One image per object; a VLM critic checks them; failures get new prompts and one more render."""

    name = "render"
    model_steps = ("critic",)

    def prompt_steps(self) -> tuple[str, ...]:
        """The critic prompt and the text-to-image prompt."""
        return ("critic", "render")

    def settings(self, ctx: Context) -> dict[str, Any]:
        """The image backend and its settings."""
        image = ctx.backends.image
        assert image is not None
        return {"t2i": image.name, "t2i_settings": image.settings()}

    def inputs(self, ctx: Context) -> list[Record]:
        """Refined questions."""
        return previous(ctx, "refine")

    @staticmethod
    def seed_of(ctx: Context, record_id: str, k: int, round_: int) -> int:
        """The seed of one render: base seed + a stable hash (reproducible, distinct per image)."""
        return ctx.config.t2i.seed + int(stable_hash([record_id, k, round_])[:6], 16)

    async def _image(self, ctx: Context, record: Record, k: int, prompt: str, round_: int) -> str:
        """Render (or reuse) one image; returns its path relative to OUT."""
        backend = ctx.backends.image
        assert backend is not None
        t2i = ctx.config.t2i
        seed = self.seed_of(ctx, record["id"], k, round_)
        request = ImageRequest(
            record_id=record["id"],
            index=k,
            object=record["objects"][k - 1],
            prompt=prompt,
            seed=seed,
            width=t2i.width,
            height=t2i.height,
            round=round_,
            context=record["question"],
        )
        digest = stable_hash([backend.name, backend.settings(), prompt, seed, t2i.width, t2i.height])[:10]
        rel = Path("images") / record["id"] / f"object{k}-r{round_}-{digest}.png"
        path = ctx.out / rel
        if path.exists():  # rendered by an earlier (killed) run: the name is the cache key
            return str(rel)
        async with ctx.t2i_semaphore():
            image = await asyncio.to_thread(backend.render, request)
        save_png(image, path)
        return str(rel)

    async def _critique(
        self, ctx: Context, record: Record, paths: list[str], prompts: list[str], attempt: int
    ) -> dict[str, Any]:
        o1, o2 = record["objects"]
        variables = {
            "object1": o1,
            "object2": o2,
            "question": record["question"],
            "prompt1": prompts[0],
            "prompt2": prompts[1],
        }
        reply = await ctx.ask("critic", record["id"], variables, [ctx.out / p for p in paths], attempt)
        return require_dict(parse_json(reply, "critic"), "critic", reply)

    async def process(self, ctx: Context, record: Record) -> Result:
        """Render both objects, critique, refine failures once, critique again."""
        prompts = [
            ctx.prompts["render"].render(object=o, question=record["question"]) for o in record["objects"]
        ]
        paths = [await self._image(ctx, record, k, prompts[k - 1], 0) for k in (1, 2)]
        verdict = await self._critique(ctx, record, paths, prompts, 0)
        failing = [k for k in (1, 2) if not require_bool(verdict, f"image{k}_ok", "critic")]
        rounds, rounds_of = 0, [0, 0]
        if failing:
            rounds = 1
            for k in failing:
                prompts[k - 1] = require_str(verdict, f"prompt{k}", "critic")
                paths[k - 1] = await self._image(ctx, record, k, prompts[k - 1], 1)
                rounds_of[k - 1] = 1
            verdict = await self._critique(ctx, record, paths, prompts, 1)
            still = [k for k in (1, 2) if not require_bool(verdict, f"image{k}_ok", "critic")]
            if still:
                names = ", ".join(f"image {k} ({record['objects'][k - 1]!r})" for k in still)
                raise Drop("critic_rejected", f"critic: {names} still wrong after one refinement round")
        seeds = [self.seed_of(ctx, record["id"], k, r) for k, r in zip((1, 2), rounds_of, strict=True)]
        return Result(
            outputs=[
                {
                    **record,
                    "images": paths,
                    "t2i_prompts": prompts,
                    "t2i_seeds": seeds,
                    "refine_rounds": rounds,
                }
            ]
        )


def save_png(image: Any, path: Path) -> None:
    """Save atomically, keeping ``mis:*`` text entries (ground truth of procedural renders)."""
    from PIL.PngImagePlugin import PngInfo

    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    for key, value in getattr(image, "info", {}).items():
        if isinstance(key, str) and key.startswith("mis:") and isinstance(value, str):
            info.add_text(key, value)
    tmp = path.with_name(path.name + ".tmp")
    image.save(tmp, format="PNG", pnginfo=info)
    os.replace(tmp, path)
