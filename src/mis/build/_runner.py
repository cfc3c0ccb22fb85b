"""The generic resumable step: one stage over a stream of records, exactly once per record.

A :class:`Stage` turns one input record into output records, or raises :class:`Drop` (the record is
kept in ``dropped.jsonl`` with the reason). :func:`run_stage` skips inputs the ledger already names,
runs the rest concurrently, commits each result as soon as it is ready, and writes the completion
marker only when no record failed with a backend error (those are retried by the next run).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis.build._backends import Backends
from mis.build._config import BuildConfig
from mis.build._parse import Drop
from mis.build._prompts import PromptTemplate
from mis.build._protocol import BackendError, ModelRequest
from mis.build._store import Record, RequestCache, StageStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildEvent:
    """Progress notice for a UI: ``start`` (total, done), ``advance``, ``end`` (counts), ``skip``."""

    kind: str
    stage: str
    total: int = 0
    done: int = 0
    counts: dict[str, Any] | None = None


EventSink = Callable[[BuildEvent], None]


@dataclass
class Result:
    """What one input record became."""

    outputs: list[Record] = field(default_factory=list)
    drops: list[Record] = field(default_factory=list)


@dataclass
class Context:
    """Everything a stage needs: settings, backends, prompts, the request cache and the output root."""

    config: BuildConfig
    backends: Backends
    prompts: dict[str, PromptTemplate]
    cache: RequestCache
    out: Path
    emit: EventSink = lambda event: None
    _t2i_sem: asyncio.Semaphore | None = None

    async def ask(
        self,
        step: str,
        record_id: str,
        variables: dict[str, Any],
        images: Sequence[Path] = (),
        attempt: int = 0,
    ) -> str:
        """Render the step's prompt, answer it from the cache or the step's backend, cache the reply."""
        prompt = self.prompts[step].render(**variables)
        backend = self.backends.text[step]
        plain = {
            k: v for k, v in variables.items() if isinstance(v, str | int | float | bool | list | type(None))
        }
        request = ModelRequest(
            step=step, prompt=prompt, images=tuple(images), record={"id": record_id, **plain}, attempt=attempt
        )
        key = RequestCache.key(record_id, request.fingerprint(backend.name, backend.settings()))
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        reply = await backend.complete(request)
        if not isinstance(reply, str):
            raise BackendError(f"{backend.name}: returned {type(reply).__name__}, not text")
        self.cache.put(key, reply)
        return reply

    def t2i_semaphore(self) -> asyncio.Semaphore:
        """Limits renders in flight (created inside the running loop)."""
        if self._t2i_sem is None:
            self._t2i_sem = asyncio.Semaphore(max(1, self.config.t2i.concurrency))
        return self._t2i_sem


class Stage:
    """One build step. Subclasses set ``name`` and implement ``inputs`` and ``process``."""

    name = "stage"
    #: Model steps this stage calls (their backends and prompts go into the fingerprint).
    model_steps: tuple[str, ...] = ()

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        """What makes this stage's records: backends, prompt hashes and stage settings."""
        fp: dict[str, Any] = {
            f"model.{s}": {"name": ctx.backends.text[s].name, "settings": ctx.backends.text[s].settings()}
            for s in self.model_steps
        }
        fp.update({f"prompt.{s}": ctx.prompts[s].sha256 for s in self.prompt_steps()})
        fp["settings"] = self.settings(ctx)
        return fp

    def prompt_steps(self) -> tuple[str, ...]:
        """Templates this stage renders."""
        return self.model_steps

    def settings(self, ctx: Context) -> dict[str, Any]:
        """Stage-specific settings that change its output."""
        return {}

    def inputs(self, ctx: Context) -> list[Record]:
        """The records this stage consumes, in a deterministic order."""
        raise NotImplementedError

    def prepare(self, ctx: Context, inputs: list[Record]) -> dict[str, Drop]:
        """Decisions that need the whole stream (e.g. duplicates), recomputed identically every run."""
        return {}

    async def process(self, ctx: Context, record: Record) -> Result:
        """Turn one input record into outputs; raise Drop to drop it."""
        raise NotImplementedError


def drop_row(stage: str, record: Record, drop: Drop, record_id: str | None = None) -> Record:
    """A dropped.jsonl line."""
    return {
        "id": record_id or record["id"],
        "stage": stage,
        "code": drop.code,
        "reason": drop.reason,
        "record": record,
    }


def stage_counts(store: StageStore, n_in: int, errors: list[str]) -> dict[str, Any]:
    """Counts in/out/dropped (by reason code) from the committed files."""
    dropped = store.dropped()
    return {
        "in": n_in,
        "out": len(store.records()),
        "dropped": len(dropped),
        "reasons": dict(sorted(Counter(d["code"] for d in dropped).items())),
        "errors": len(errors),
        "error_examples": errors[:5],
    }


async def run_stage(stage: Stage, ctx: Context, max_inflight: int = 64) -> dict[str, Any]:
    """Run (or resume) one stage; returns its counts. ``counts['errors'] > 0`` means incomplete."""
    store = StageStore(ctx.out, stage.name, durable=ctx.config.durable)
    store.open(stage.fingerprint(ctx))
    inputs = stage.inputs(ctx)
    done = store.ledger()
    pending = [r for r in inputs if r["id"] not in done]
    if store.is_complete():
        if not pending:
            counts = stage_counts(store, len(inputs), [])
            ctx.emit(BuildEvent("skip", stage.name, total=len(inputs), done=len(inputs), counts=counts))
            return counts
        store.success_path.unlink()  # new inputs (more seeds): the stage grows, finished work stays
    pre = stage.prepare(ctx, inputs)
    ctx.emit(BuildEvent("start", stage.name, total=len(inputs), done=len(inputs) - len(pending)))
    errors: list[str] = []
    gate = asyncio.Semaphore(max_inflight)

    async def one(record: Record) -> None:
        async with gate:
            try:
                if record["id"] in pre:
                    raise pre[record["id"]]
                result = await stage.process(ctx, record)
            except Drop as drop:
                result = Result(drops=[drop_row(stage.name, record, drop)])
            except BackendError as exc:
                log.warning("%s: %s left for a rerun: %s", stage.name, record["id"], exc)
                errors.append(f"{record['id']}: {exc}")
                ctx.emit(BuildEvent("advance", stage.name))
                return
            except Exception as exc:  # noqa: BLE001 - one bad record must not end the run
                log.exception("%s: unexpected error on %s", stage.name, record["id"])
                errors.append(f"{record['id']}: {type(exc).__name__}: {exc}")
                ctx.emit(BuildEvent("advance", stage.name))
                return
        store.commit(record["id"], result.outputs, result.drops)
        ctx.emit(BuildEvent("advance", stage.name))

    await asyncio.gather(*(one(r) for r in pending))
    counts = stage_counts(store, len(inputs), errors)
    if not errors:
        store.mark_complete(counts)
    ctx.emit(BuildEvent("end", stage.name, total=len(inputs), done=len(inputs), counts=counts))
    return counts
