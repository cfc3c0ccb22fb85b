"""`run_build`: the stages in order, then the dataset in the MIS layout and its manifest.

The manifest (``OUT/manifest.json``) is written last: it is the build's completion marker and its
record (models, prompt hashes, settings, counts per stage, the reason for every dropped record).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mis.build._backends import Backends, resolve_backends
from mis.build._config import STAGES, BuildConfig, ConfigError
from mis.build._prompts import load_prompts
from mis.build._runner import Context, EventSink, Stage, run_stage
from mis.build._split import SPLITS, Label, Review, Split, load_decisions
from mis.build._stages import Extract, Refine, Render
from mis.build._store import Record, RequestCache, StageStore, write_json_atomic
from mis.errors import UsageError

STAGE_CLASSES: tuple[type[Stage], ...] = (Extract, Refine, Render, Split, Review, Label)
MANIFEST = "manifest.json"


class DroppedEntry(BaseModel):
    """One dropped record: where, which, and why."""

    stage: str
    id: str
    code: str
    reason: str


class Manifest(BaseModel):
    """What made a built dataset; ``final`` equals the records in ``mis_<split>.json``."""

    mis_version: str
    created: str
    out: str
    config: dict[str, Any]
    backends: dict[str, Any]
    prompts: dict[str, dict[str, str]]
    stages: dict[str, dict[str, Any]]
    final: dict[str, int]
    dropped: list[DroppedEntry]
    review: dict[str, Any]


@dataclass
class BuildResult:
    """Outcome of one `run_build` call."""

    status: str
    """complete, incomplete (some records failed with backend errors: rerun), awaiting_review, stopped."""
    out: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    final: dict[str, int] = field(default_factory=dict)
    message: str = ""

    @property
    def manifest_path(self) -> Path:
        """``OUT/manifest.json`` (exists when status is complete)."""
        return self.out / MANIFEST


class BuildError(UsageError):
    """The build cannot start (bad output folder, stale stage); the message says how to fix it."""


def _check_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()) and not (out / "build.json").exists():
        raise BuildError(
            f"--out {out} exists, is not empty and is not a `mis build` folder; use a new folder"
        )


def restart(out: Path, stage: str) -> None:
    """Forget ``stage`` and every later stage (the request cache and rendered images stay)."""
    if stage not in STAGES:
        raise ConfigError(f"--restart-from: unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    for name in STAGES[STAGES.index(stage) :]:
        shutil.rmtree(out / name, ignore_errors=True)
    (out / MANIFEST).unlink(missing_ok=True)


def samples_from(records: list[Record], out: Path) -> list[Any]:
    """Final records -> Samples, numbered 0.. per split in record-id order (ids are stable across reruns)."""
    from mis.data import Sample

    samples = []
    for split in SPLITS:
        chosen = sorted((r for r in records if r["split"] == split), key=lambda r: r["id"])
        for n, r in enumerate(chosen):
            samples.append(
                Sample(
                    id=str(n),
                    split=split,
                    question=r["question"],
                    images=[str(out / p) for p in r["images"]],
                    category=r["category"],
                    sub_category=r["sub_category"],
                    target=r.get("target"),
                    metadata={
                        "build_id": r["id"],
                        "objects": list(r["objects"]),
                        "t2i_prompts": list(r["t2i_prompts"]),
                        "t2i_seeds": list(r["t2i_seeds"]),
                        # the extracted question that names both objects (text-only baseline)
                        **({"original_question": r["seed_question"]} if r.get("seed_question") else {}),
                    },
                )
            )
    return samples


def write_dataset(records: list[Record], out: Path) -> dict[str, int]:
    """Write the MIS layout at ``out`` (replacing an earlier build's split files); counts per split."""
    from mis.data import write_mis_layout

    for split in SPLITS:
        (out / f"mis_{split}.json").unlink(missing_ok=True)
        shutil.rmtree(out / f"{split}_image", ignore_errors=True)
    samples = samples_from(records, out)
    write_mis_layout(samples, out, overwrite=True)
    return {split: sum(1 for s in samples if s.split == split) for split in SPLITS}


def _manifest(
    config: BuildConfig,
    backends: Backends,
    ctx: Context,
    stages: dict[str, dict[str, Any]],
    final: dict[str, int],
) -> Manifest:
    from importlib.metadata import PackageNotFoundError, version

    try:
        mis_version = version("mis")
    except PackageNotFoundError:  # pragma: no cover - source checkout without install
        mis_version = "unknown"
    dropped = [
        DroppedEntry(stage=name, id=d["id"], code=d["code"], reason=d["reason"])
        for name in STAGES
        for d in StageStore(ctx.out, name).dropped()
    ]
    decisions = load_decisions(ctx.out)
    return Manifest(
        mis_version=mis_version,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        out=str(ctx.out),
        config=config.to_dict(),
        backends=backends.describe(),
        prompts={s: {"source": p.source, "sha256": p.sha256} for s, p in ctx.prompts.items()},
        stages=stages,
        final=final,
        dropped=dropped,
        review={
            "decisions": len(decisions) if decisions is not None else None,
            "required": config.require_review,
        },
    )


async def _run_stages(ctx: Context, until: str | None) -> BuildResult:
    result = BuildResult(status="complete", out=ctx.out)
    for cls in STAGE_CLASSES:
        stage = cls()
        if isinstance(stage, Review) and ctx.config.require_review and load_decisions(ctx.out) is None:
            result.status = "awaiting_review"
            result.message = (
                f"split is done; review it with `mis build review-export --out {ctx.out}`, then "
                f"`mis build review-import --out {ctx.out} FILE.csv`, then rerun"
            )
            return result
        counts = await run_stage(stage, ctx)
        result.stages[stage.name] = counts
        if counts["errors"]:
            result.status = "incomplete"
            result.message = (
                f"{counts['errors']} record(s) of stage {stage.name} failed with backend errors "
                f"(first: {counts['error_examples'][0]}); rerun the same command to retry them"
            )
            return result
        if until == stage.name:
            result.status = "stopped"
            result.message = f"stopped after stage {stage.name} (--until)"
            return result
    return result


def run_build(
    config: BuildConfig,
    *,
    backends: Backends | None = None,
    on_event: EventSink | None = None,
    restart_from: str | None = None,
    until: str | None = None,
) -> BuildResult:
    """Run or resume a build into ``config.out``.

    ``backends`` replaces the config's backends step by step (Python plug-ins such as MIS-mini's);
    ``restart_from`` forgets a stage and the later ones; ``until`` stops after a stage.
    """
    config.validate()
    if until is not None and until not in STAGES:
        raise ConfigError(f"--until: unknown stage {until!r}; stages: {', '.join(STAGES)}")
    out = Path(str(config.out)).resolve()
    _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    if restart_from:
        restart(out, restart_from)
    write_json_atomic(out / "build.json", config.to_dict())
    resolved = resolve_backends(config, backends)
    ctx = Context(
        config=config,
        backends=resolved,
        prompts=load_prompts(config.prompts),
        cache=RequestCache(out / "cache" / "requests.jsonl", durable=config.durable),
        out=out,
        emit=on_event or (lambda event: None),
    )
    try:
        result = asyncio.run(_run_stages(ctx, until))
    except Exception as exc:
        from mis.build._store import StaleStageError

        if isinstance(exc, StaleStageError):
            raise BuildError(str(exc)) from exc
        raise
    if result.status != "complete":
        return result
    records = StageStore(out, "label").records()
    result.final = write_dataset(records, out)
    manifest = _manifest(config, resolved, ctx, result.stages, result.final)
    write_json_atomic(out / MANIFEST, json.loads(manifest.model_dump_json()))
    result.message = f"wrote {sum(result.final.values())} samples to {out}"
    return result


def read_manifest(out: Path) -> Manifest:
    """Load ``OUT/manifest.json``."""
    return Manifest.model_validate_json((Path(out) / MANIFEST).read_text(encoding="utf-8"))
