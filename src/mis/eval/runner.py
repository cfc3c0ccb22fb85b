"""The one runner: every benchmark (MIS included) runs here, resumably, into one run folder each.

A run folder (docs/results.md) holds ``run.json`` (identity + the resolved config), ``generations.jsonl``
(each response as soon as it exists, so a judge failure never costs a regeneration), ``checkpoint.jsonl``
(each finished sample, fsynced one by one), then ``samples.jsonl`` and ``results.json`` written last and
atomically from the union of finished records. Rerunning the same command on the same folder runs only the
missing samples (and re-judges those whose judgement was lost to transport failures); a run with another
identity (model, judge, rubric, prompt, data, generation config, options) is refused with the difference
named. Several units (a suite) run in ONE ``inspect eval`` call, so a local model loads once.

Under ``torchrun`` / ``accelerate launch`` each rank runs its share of the samples still to do into its own
checkpoint files, and rank 0 alone writes samples.jsonl and results.json (:mod:`mis.eval._distributed`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset
from inspect_ai.dataset import Sample as InspectSample
from inspect_ai.model import ContentImage, GenerateConfig, Model, ModelOutput, get_model
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, mean, metric, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from mis._util import fast_json, file_media
from mis._util.file_media import file_marker, marked_path, send_files
from mis._util.io import write_json_atomic, write_jsonl_atomic
from mis._util.providers import key_args
from mis.errors import DataError, RunMismatchError, RunStopped, UsageError
from mis.eval import _deep_checks, _distributed
from mis.eval._checkpoint import CHECKPOINT_FILE, Checkpoint, retryable, run_key
from mis.eval._deep_checks import DeepChecks
from mis.eval._samples import ImagePolicy, ServedLayout, convert, select_deferred, served_layout
from mis.eval.config import ModelOptions
from mis.eval.metrics import pct
from mis.eval.spec import Benchmark, JudgeContext
from mis.judges import UNKNOWN, Judge
from mis.judges._reasoning import reasoning_text

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
GENERATIONS_FILE = "generations.jsonl"
RESULTS_FILE = "results.json"
#: The image gate's memory of the files it checked (a resumed run does not decode them again).
SAMPLES_FILE = "samples.jsonl"
SCHEMA_VERSION = 2


@dataclass
class Unit:
    """One benchmark of one run: what to evaluate and where its run folder is."""

    spec: Benchmark
    out: Path
    data: str
    options: Any
    task_args: dict[str, Any] = field(default_factory=dict)
    """The options as given (recorded in results.json)."""
    limit: int | None = None
    max_tokens: int | None = None
    """None: the benchmark's own budget (MIS and safety 1024, VLGuard 256, multiple choice 64)."""
    image_mode: str = "original"
    missing: str = "error"
    judges: JudgeContext = field(default_factory=JudgeContext)
    """The judges this unit's spec picks its protocol(s) from."""
    config: dict[str, Any] = field(default_factory=dict)
    """The resolved command config, saved in run.json."""
    selection: tuple[list[InspectSample], str] | None = None
    """Prepared samples + fingerprint (``mis judge``: responses produced elsewhere)."""
    policy: ImagePolicy | None = None
    """The image gate's policy (None: no gate; ``mis judge`` gates its responses file itself)."""
    invalid: list[dict[str, Any]] = field(default_factory=list)
    """Samples the gate left out before the unit reached the runner (``mis judge`` with skip)."""
    identity_extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Prepared:
    unit: Unit
    task: str
    samples: list[InspectSample]
    fingerprint: str
    judges: list[Judge]
    identity: dict[str, Any]
    key: str
    todo: list[InspectSample]
    base_url: str | None
    invalid: list[dict[str, Any]] = field(default_factory=list)
    deep: DeepChecks | None = None
    """The image gate's full decode, still to run ahead of each sample's requests (None: all done)."""


class Progress(Protocol):
    """What the runner reports while it runs (the CLI draws a bar from it; the library never prints)."""

    def start(self, task: str, total: int, done: int) -> None:
        """A unit begins: ``total`` samples, ``done`` of them finished before."""

    def advance(self, task: str, row: dict[str, Any]) -> None:
        """One sample of ``task`` finished (generated and judged) with this samples.jsonl row."""


def run(
    units: Sequence[Unit],
    model: ModelOptions | None,
    *,
    log_dir: Path,
    bootstrap: int = 0,
    log_images: bool = False,
    progress: Progress | None = None,
    inspect_args: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run ``units`` (``model`` None: replay recorded responses) and return each unit's results.json content.

    Raises :class:`RunStopped` (after writing every unit that finished) when samples are left unfinished.
    Data-parallel (launched with ``WORLD_SIZE`` > 1): this rank runs its share; only rank 0 reports
    progress and writes the final files; every rank returns (or raises) rank 0's outcome.
    """
    world = _distributed.world()
    progress = progress if world.main else None
    prepared = world.main_first(lambda: [_prepare(u, model, claim=world.main) for u in units])
    todo = world.from_main([[str(s.id) for s in p.todo] for p in prepared])  # one view of what is left
    for p, uids in zip(prepared, todo, strict=True):
        by_id = {str(s.id): s for s in p.samples}
        p.todo = [by_id[uid] for uid in _distributed.split(uids, world.rank, world.size)]
        if progress is not None:  # rank 0's bar counts its own share (one process: every sample)
            kept = len(p.samples) - len(uids)
            progress.start(p.task, kept + len(p.todo), kept)
    rank = world.file_rank
    for p in prepared:  # decode this rank's images in the order its samples will be sent
        if p.deep is not None:
            p.deep.start([str(s.id) for s in p.todo])
            _deep_checks.register(_gate_key(p, rank), p.deep)
    try:
        reports = world.gather(_run_tasks(prepared, model, rank, log_dir, log_images, progress, inspect_args))
    finally:
        for p in prepared:
            if p.deep is not None:
                _deep_checks.release(_gate_key(p, rank))
    return world.outcome(lambda: _merge(prepared, reports, bootstrap))


def _gate_key(p: _Prepared, rank: int | None) -> str:
    return f"{p.key}:{rank if rank is not None else 'main'}"


def _run_tasks(prepared: Sequence[_Prepared], model: ModelOptions | None, rank: int | None, log_dir: Path,
               log_images: bool, progress: Progress | None,
               inspect_args: dict[str, Any] | None) -> _Report:
    """One ``inspect eval`` of this rank's share: what stopped it, its logs, settings, invalid samples."""
    # images as file markers (inlined at the provider boundary), unless the logs must hold their bytes
    markers = not log_images or (model is not None and model.image_transport == "file")
    if markers:
        for p in prepared:
            _adopt_markers(p)
    tasks = [_task(p, replay=model is None, progress=progress, rank=rank,
                   gate=_gate_key(p, rank) if p.deep is not None else None) for p in prepared if p.todo]
    stopped: list[str] = []
    used: dict[str, Any] = {}
    locations: list[tuple[str, str]] = []
    logs: list[Any] = []
    if tasks:
        log_dir.mkdir(parents=True, exist_ok=True)
        instance = _model(model)
        # log_header_only: inspect would otherwise read every sample of the finished log back into memory
        # (~0.1 MB each: peak RSS growing with N); the rare failure path reads the samples it needs itself
        # score_display off: nothing draws inspect's live metrics, which it would recompute over every
        # finished sample about once a second (quadratic in N)
        settings: dict[str, Any] = {"log_images": log_images, "log_realtime": False, "display": "none",
                                    "log_header_only": True, "score_display": False}
        settings |= inspect_args or {}
        logs = _interruptible(
            stopped,
            tasks,
            model=instance,
            log_dir=str(log_dir),
            fail_on_error=False,
            retry_on_error=model.retries if model else 0,
            score=True,
            max_tasks=max(1, len(tasks)),
            **settings,
        )
        if not logs and not stopped:
            stopped.append("interrupted")  # inspect returns no log when Ctrl-C cancels the eval
        used = _settings(instance, prepared)
        for log in logs:
            if log.status == "cancelled":
                stopped.append(f"{log.eval.task}: interrupted")
            elif log.status != "success":
                why = _first_line(log.error.message) if log.error else log.status
                stopped.append(f"{log.eval.task}: {why}")
            if log.location:
                locations.append((log.eval.task, str(log.location)))
    rejected: dict[str, list[dict[str, Any]]] = {}
    halts: list[str] = []
    for p in prepared:  # this rank's share left unfinished: its first sample error, from its own log
        deep = p.deep
        if deep is not None:
            deep.close()
            rejected[p.task] = list(deep.invalid.values())
            halt = deep.stop_message(p.unit.data)
            if halt is not None:
                halts.append(halt)
                continue
        left = [s for s in p.todo if deep is None or str(s.id) not in deep.invalid]
        if left and _missing(p, left):
            stopped += _sample_errors(p, logs)
    return stopped, locations, used, rejected, halts


#: What one rank's eval reports to rank 0: stop reasons, (task, log) pairs, model settings, invalid rows by
#: task, and the image-gate stops.
_Report = tuple[list[str], list[tuple[str, str]], dict[str, Any], dict[str, list[dict[str, Any]]], list[str]]


def _merge(prepared: Sequence[_Prepared], reports: Sequence[_Report], bootstrap: int) -> list[dict[str, Any]]:
    """Record every rank's logs, settings and invalid samples, then write each finished unit (rank 0)."""
    by_task = {p.task: p for p in prepared}
    stopped: list[str] = []
    used: dict[str, Any] = {}
    halts: list[str] = []
    for reasons, locations, settings, rejected, halted in reports:
        stopped += [w for w in reasons if w not in stopped]
        halts += [w for w in halted if w not in halts]
        used = settings | used  # the first rank's wins (every rank's model is the same)
        for task, location in locations:
            if task in by_task:
                _record_log(by_task[task].unit.out, location)
        for task, rows in rejected.items():  # left out during the run (skip): counted as invalid, not run
            p = by_task[task]
            out = {row["uid"] for row in rows}
            p.samples = [s for s in p.samples if str(s.id) not in out]
            p.invalid += rows
    _record_settings(prepared, used)
    results, unfinished = [], []
    for p in prepared:
        result = _finish(p, bootstrap)
        if result is None:
            unfinished.append(p)
        else:
            results.append(result)
    if halts:  # an invalid image found during the run (--invalid-images stop): a data error, resumable
        raise DataError(" ".join(halts))
    if unfinished:
        counts = "; ".join(_progress(p) for p in unfinished)
        why = f" ({'; '.join(stopped)})" if stopped else ""
        raise RunStopped(
            f"the run stopped before every sample finished{why}: {counts}. Finished samples are "
            "kept; rerun the same command to continue"
        )
    return results


def _missing(p: _Prepared, samples: Sequence[InspectSample]) -> bool:
    done = Checkpoint(p.unit.out / CHECKPOINT_FILE, p.key).load()
    return any(str(s.id) not in done for s in samples)


def _served(model: ModelOptions | None) -> ServedLayout | None:
    """A served model's family layout (hfvlm lays turns out itself; `--model-arg family=NAME` overrides)."""
    if model is None or model.model.startswith("hfvlm/"):
        return None
    return served_layout(model.model, model.model_args.get("family"))


def _model(model: ModelOptions | None) -> Model:
    """The model under test, created once for every unit (hfvlm's batch size travels as a provider arg)."""
    if model is None:
        return get_model("none/none")
    args = dict(model.model_args) | ({"batch_size": model.batch_size} if model.batch_size is not None else {})
    if not model.model.startswith("hfvlm/"):
        args.pop("family", None)  # a layout choice (applied to the samples), not a client arg
    config = GenerateConfig(
        temperature=model.temperature,
        max_connections=model.max_connections,
        attempt_timeout=max(1, round(model.request_timeout)),
        max_retries=model.retries,
    )
    fast_json.install()  # the client's request bodies: same bytes, a fraction of the CPU
    instance = get_model(model.model, base_url=model.model_base_url, config=config, memoize=False,
                         **key_args(model.model, model.model_base_url), **args)
    if model.image_transport == "file":
        from inspect_ai.model._providers.openai_compatible import OpenAICompatibleAPI

        if not isinstance(instance.api, OpenAICompatibleAPI):
            raise UsageError(f"--image-transport file: {model.model} is not an OpenAI-compatible server")
        send_files(instance.api)
    elif not model.model.startswith("hfvlm/"):  # hfvlm reads a marker's file itself
        file_media.inline_at_the_boundary(instance)
    return instance


def _prepare(unit: Unit, model: ModelOptions | None, *, claim: bool = True) -> _Prepared:
    """The unit's samples, identity and what is left to do; ``claim``: write run.json (rank 0 only)."""
    spec = unit.spec
    served = _served(model) if spec.family_layout else None
    unit.out.mkdir(parents=True, exist_ok=True)
    invalid = list(unit.invalid)
    deep = None
    if unit.selection is not None:
        samples, fingerprint = unit.selection
    else:
        picked, fingerprint, invalid, deep = select_deferred(spec, unit.data, unit.options, limit=unit.limit,
                                                             image_mode=unit.image_mode, missing=unit.missing,
                                                             policy=unit.policy)
        samples = convert(spec, picked, unit.options, served)
    bound = spec.judges(unit.judges, unit.options)
    task = spec.task_for(unit.options)
    identity = {
        "benchmark": spec.name,
        "task": task,
        "model": model.model if model else unit.identity_extra.get("model"),
        "generate": {"temperature": model.temperature, "max_tokens": unit.max_tokens or spec.max_tokens}
        if model
        else None,
        **(bound[0].identity if bound else {}),
        "cross_checks": [j.identity for j in bound[1:]],
        "task_args": unit.task_args,
        "image_mode": unit.image_mode,
        "prompt_layout": served.name if served else "stock",
        "data_fingerprint": fingerprint,
        **(spec.identity(unit.options) if spec.identity else {}),
        **unit.identity_extra,
    }
    key = run_key(identity)
    unit.out.mkdir(parents=True, exist_ok=True)
    if claim:
        _claim(unit.out, key, identity, unit.config)
    done = Checkpoint(unit.out / CHECKPOINT_FILE, key).load()
    todo = [s for s in samples if str(s.id) not in done or retryable(done[str(s.id)])]
    logger.debug(
        "%s: %d samples, %d already finished, %d to run",
        task,
        len(samples),
        len(samples) - len(todo),
        len(todo),
    )
    if deep is not None:  # only the samples still to run need their images decoded
        left = {str(s.id) for s in todo}
        deep.samples = {uid: item for uid, item in deep.samples.items() if uid in left}
    return _Prepared(unit, task, samples, fingerprint, bound, identity, key, todo,
                     model.model_base_url if model else None, invalid, deep or None)


def _task(p: _Prepared, *, replay: bool, progress: Progress | None = None, rank: int | None = None,
          gate: str | None = None) -> Task:
    spec, out = p.unit.spec, p.unit.out
    generations = str(out / GENERATIONS_FILE)
    solve = replay_response() if replay else resumable_generate(generations, p.key, rank, gate)
    return Task(
        dataset=MemoryDataset(p.todo, name=p.task),
        solver=solve,
        scorer=judged(p.judges, spec, str(out / CHECKPOINT_FILE), p.key, progress=progress, task=p.task,
                      rank=rank),
        config=GenerateConfig(max_tokens=p.identity["generate"]["max_tokens"])
        if not replay
        else GenerateConfig(),
        name=p.task,
        metadata={"benchmark": spec.name, "mis_run_key": p.key},
    )


def _adopt_markers(p: _Prepared) -> None:
    """Swap the unit's samples still to run for their file-marker copies, so each sample is held once.

    The copies share their metadata with the originals; holding both cost ~3 KB per sample for the whole run.
    """
    marked = {id(s): _with_markers(s) for s in p.todo}
    p.todo = [marked[id(s)] for s in p.todo]
    p.samples = [marked.get(id(s), s) for s in p.samples]


def _with_markers(sample: InspectSample) -> InspectSample:
    """The sample with each image as a file marker (:mod:`mis._util.file_media`): inspect reads no image."""
    if isinstance(sample.input, str):
        return sample
    messages = []
    for message in sample.input:
        if not isinstance(message.content, str):
            parts = [c.model_copy(update={"image": file_marker(c.image)})
                     if isinstance(c, ContentImage) and not c.image.startswith("data:") else c
                     for c in message.content]
            message = message.model_copy(update={"content": parts})
        messages.append(message)
    return sample.model_copy(update={"input": messages})


def _progress(p: _Prepared) -> str:
    done = Checkpoint(p.unit.out / CHECKPOINT_FILE, p.key).load()
    finished = sum(1 for s in p.samples if str(s.id) in done)
    return f"{p.task}: {finished} of {len(p.samples)} finished (kept in {p.unit.out / CHECKPOINT_FILE})"


def _finish(p: _Prepared, bootstrap: int) -> dict[str, Any] | None:
    """Write samples.jsonl and results.json when every sample is finished; else None."""
    unit, spec = p.unit, p.unit.spec
    done = Checkpoint(unit.out / CHECKPOINT_FILE, p.key).load()
    if any(str(s.id) not in done for s in p.samples):
        return None
    rows = [{k: v for k, v in done[str(s.id)].items() if k != "key"} for s in p.samples]
    if not rows:
        raise DataError(f"{spec.name}: every sample was left out by the image gate ({len(p.invalid)} "
                        f"invalid); see {unit.out / SAMPLES_FILE}")
    summary = spec.summarize(rows, unit.options, bootstrap)
    metrics = summary["metrics"]
    primary = p.judges[0].identity if p.judges else {}
    judges = sorted({str(r["judge"]) for r in rows if r.get("judge")})
    results = {
        "schema_version": SCHEMA_VERSION,
        "benchmark": spec.name,
        "task": p.task,
        "kind": spec.kind,
        "model": p.identity["model"],
        "judge": judges[0] if len(judges) == 1 else (", ".join(judges) or primary.get("judge") or "none"),
        "judge_protocol": primary.get("judge_protocol"),
        "judge_prompt_sha256": primary.get("judge_prompt_sha256"),
        "judge_config": primary.get("judge_config"),
        "cross_checks": [j.identity for j in p.judges[1:]],
        "n": len(rows),
        "unknown": sum(1 for r in rows if r.get("label") == UNKNOWN),
        "invalid": len(p.invalid),
        "headline": {
            "metric": spec.headline,
            "value": metrics.get(spec.headline),
            "higher_is_better": spec.higher_is_better,
        },
        **summary,
        "generate_config": p.identity["generate"],
        "model_settings": json.loads((unit.out / RUN_FILE).read_text(encoding="utf-8")).get("model_settings"),
        "model_base_url": p.base_url,
        "task_args": unit.task_args,
        "data": unit.data,
        "data_fingerprint": p.fingerprint,
        "mis_version": _version(),
        "run_key": p.key,
        "logs": _logs(unit.out),
    }
    write_jsonl_atomic(unit.out / SAMPLES_FILE, [*rows, *p.invalid])
    write_json_atomic(unit.out / RESULTS_FILE, results)
    return results


def _claim(out: Path, key: str, identity: dict[str, Any], config: dict[str, Any]) -> None:
    """Write run.json, or refuse when the folder already holds work of a run with another identity."""
    path = out / RUN_FILE
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        started = any(
            path.is_file() and path.stat().st_size > 0
            for name in (CHECKPOINT_FILE, GENERATIONS_FILE, RESULTS_FILE)
            for path in (out / name, *_distributed.shard_files(out / name))
        )
        if previous.get("key") != key and started:
            old, new = _flat(previous.get("identity", {})), _flat(identity)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            detail = "; ".join(f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}" for k in diff[:4])
            raise RunMismatchError(
                f"{out} holds a different run ({detail}). Use another --out, or delete {out} to start over."
            )
    kept = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    kept = kept if kept.get("key") == key else {}  # another identity's logs and settings are not this run's
    write_json_atomic(path, {"key": key, "identity": identity, "config": config, "logs": kept.get("logs", []),
                             "model_settings": kept.get("model_settings")})


def _interruptible(stopped: list[str], *args: Any, **kwargs: Any) -> list[Any]:
    """Inspect's eval; Ctrl-C ends it like any stop: what finished is kept, and the user is told to rerun."""
    try:
        return list(inspect_eval(*args, **kwargs))
    except KeyboardInterrupt:
        stopped.append("interrupted")
        return []


def _sample_errors(p: _Prepared, logs: Sequence[Any]) -> list[str]:
    """The first sample error of an unfinished unit (read from its log only when the run did not finish)."""
    for log in logs:
        if log.eval.task != p.task:
            continue
        failed = [smp.error for smp in _samples_of(log) if smp.error is not None]
        if failed:
            more = f" (and {len(failed) - 1} more sample errors)" if len(failed) > 1 else ""
            return [f"{p.task}: {_first_line(failed[0].message)}{more}"]
    return []


def _samples_of(log: Any) -> Iterator[Any]:
    """A finished log's samples: in memory when inspect returned them, else streamed from its file."""
    if log.samples is not None:
        yield from log.samples
        return
    if not getattr(log, "location", None):
        return
    from inspect_ai.log import read_eval_log_samples

    try:
        yield from read_eval_log_samples(log.location, all_samples_required=False, exclude_fields={"events"})
    except (OSError, ValueError) as exc:  # an unreadable log must not hide the run's own error
        logger.warning("could not read the samples of %s: %s", log.location, exc)


def _first_line(message: str) -> str:
    """The first non-empty line of an error message, shortened.

    inspect's ``ModelGenerateError`` starts with the whole request (``Request:`` and its JSON), then the
    provider's error after a blank line: that error is the line kept (its escaped form too, as in logs).
    """
    if "Request:" in message:
        unescaped = message.replace("\\n", "\n")
        message = unescaped.rsplit("\n\n", 1)[-1].removesuffix("')").removesuffix('")')
    line = next((ln.strip() for ln in message.splitlines() if ln.strip()), message)
    return line if len(line) <= 300 else line[:297] + "..."


def _settings(instance: Model, prepared: Sequence[_Prepared]) -> dict[str, Any]:
    """What an in-process model actually used per task (hfvlm: preset, layout, processor, generate)."""
    settings = getattr(instance.api, "settings", None)
    if not callable(settings):
        return {}
    return {p.task: settings(GenerateConfig(**p.identity["generate"])) for p in prepared
            if p.todo and p.identity.get("generate") is not None}


def _record_settings(prepared: Sequence[_Prepared], used: dict[str, Any]) -> None:
    """Keep each unit's model settings in its run.json."""
    for p in prepared:
        if p.task not in used:
            continue
        path = p.unit.out / RUN_FILE
        data = json.loads(path.read_text(encoding="utf-8"))
        data["model_settings"] = used[p.task]
        write_json_atomic(path, data)


def _record_log(out: Path, location: str) -> None:
    """Add an inspect log of this run folder's unit to run.json (every attempt's log is kept)."""
    path = out / RUN_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    logs = data.setdefault("logs", [])
    if location not in logs:
        logs.append(location)
        write_json_atomic(path, data)


def _logs(out: Path) -> list[str]:
    """The run's inspect logs, relative to the run folder (a suite's sit in OUT/logs: ``../logs/...``)."""
    data = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    return [os.path.relpath(loc.removeprefix("file://"), out) for loc in data.get("logs", [])]


def _flat(identity: dict[str, Any]) -> dict[str, Any]:
    """Nested identity fields as dotted keys (``generate.max_tokens``), so a refusal names the exact field."""
    out: dict[str, Any] = {}
    for key, value in identity.items():
        if isinstance(value, dict) and value:
            out |= {f"{key}.{k}": v for k, v in _flat(value).items()}
        else:
            out[key] = value
    return out


def _short(value: Any, n: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _version() -> str:
    from mis import __version__

    return __version__


# -- the solver and the scorer every task of the runner uses ------------------------------------------
@solver
def resumable_generate(path: str, key: str, rank: int | None = None, gate: str | None = None) -> Solver:
    """Generate, keeping each response durably; a sample generated before a crash is not generated again.

    ``rank``: a data-parallel rank's own file to append to (every rank's responses are read).
    ``gate``: the key of the run's :class:`DeepChecks`: the sample waits for its images' full check before
    anything of it is sent (the model's request, and the judge's after it).
    """
    store = Checkpoint(Path(path), key, rank)
    recorded = store.load()
    deep = _deep_checks.lookup(gate)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        uid = str(state.sample_id)
        if deep is not None:
            checks = await deep.wait(uid)  # raises ImageRejected: the sample sends nothing
            if checks and all(c.sha256 for c in checks):
                state.metadata["image_sha256"] = [c.sha256 for c in checks]
        if uid in recorded:
            kept = recorded[uid]
            state.output = ModelOutput.from_content(model=kept["model"], content=kept["response"])
            state.messages.append(state.output.message)
            return state
        state = await generate(state)
        if not state.output.error:
            kept = {"uid": uid, "model": state.output.model, "response": state.output.completion}
            store.append(kept)
            recorded[uid] = kept  # a retried sample (judge failure) reuses it within this run too
        return state

    return solve


@solver
def replay_response() -> Solver:
    """Use the recorded response in ``metadata['response']`` as the model output (``mis judge``)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state.output = ModelOutput.from_content(model="recorded", content=state.metadata["response"])
        state.messages.append(state.output.message)
        return state

    return solve


def image_hashes(state: TaskState) -> list[str]:
    """sha256 of each image the model saw, without reading the files again.

    The image gate's hashes (it read every byte before the run), else from the bytes already in memory.
    """
    import base64
    import hashlib

    if state.metadata.get("image_sha256"):
        return list(state.metadata["image_sha256"])

    for message in state.messages:
        if message.role == "user" and not isinstance(message.content, str):
            refs = [p.image for p in message.content if isinstance(p, ContentImage)]
            if refs:
                refs = [marked_path(r) or r for r in refs]  # a file marker: the file's own bytes
                return [hashlib.sha256(base64.b64decode(r.split(",", 1)[1]) if r.startswith("data:")
                                       else Path(r).read_bytes()).hexdigest() for r in refs]
    return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in state.metadata.get("images", [])]


def row_of(state: TaskState, scores: list[Score], judges: list[Judge], spec: Benchmark) -> dict[str, Any]:
    """One samples.jsonl row: the sample, the response, the primary judge's verdict and the cross-checks."""
    meta = state.metadata
    main = scores[0]
    md = dict(main.metadata or {})
    row: dict[str, Any] = {
        "uid": meta["uid"],
        "id": meta["id"],
        "split": meta["split"],
        "category": meta.get("category"),
        "sub_category": meta.get("sub_category"),
        "question": meta["question"],
        "images": list(meta["images"]),
        "image_sha256": image_hashes(state),
        "prompt_text": meta.get("prompt_text"),
        "target": state.target.text or None,
        "response": state.output.completion,
        "label": md.get("label", UNKNOWN),
        "explanation": main.explanation or "",
        "judge": md.get("judge"),
        "judge_protocol": md.get("judge_protocol"),
        "judge_error": md.get("judge_error"),
        "judge_raw": md.get("judge_raw"),
    }
    for k in judges[0].metadata_keys:
        row[k] = md.get(k)
    for judge, extra in zip(judges[1:], scores[1:], strict=True):
        label = (extra.metadata or {}).get("label")
        if judge.protocol == "refusal-string-match":
            row["refusal_string_match"] = label == "refusal"
        else:
            row[f"{judge.protocol}_label"] = label
    reasoning = reasoning_text(state)  # a served reasoning model's <think> part, split off by inspect
    if reasoning:
        row["reasoning"] = reasoning
    if spec.row is not None:
        row |= spec.row(meta)
    return row


def _label_rate(name: str, labels: tuple[str, ...]) -> Metric:
    @metric(name=name)
    def rate_metric() -> Metric:
        def compute(scores: list[SampleScore]) -> float:
            got = [(s.score.metadata or {}).get("label") for s in scores]
            return pct(sum(1 for label in got if label in labels), len(got))

        return compute

    return rate_metric()


#: Samples between two ``malloc_trim`` calls (see :func:`_release_freed_memory`).
TRIM_EVERY = int(os.environ.get("MIS_TRIM_EVERY", "16"))
_finished = [0]


def _release_freed_memory() -> None:
    """Every TRIM_EVERY samples, hand the heap pages freed samples left behind back to the OS (glibc only).

    Each in-flight sample holds megabytes of base64 image data in several buffers (the messages, the JSON
    body); glibc keeps freed pages of such buffers resident, so without this the peak RSS creeps up with
    N by ~10% at 1,000 samples. One trim costs ~10 ms of CPU on a 1 GB heap, hence not after every sample.
    """
    _finished[0] += 1
    if TRIM_EVERY <= 0 or _finished[0] % TRIM_EVERY:
        return
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        import ctypes.util

        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def judged(judges: list[Judge], spec: Benchmark, path: str | None, key: str, *,
           progress: Progress | None = None, task: str = "", rank: int | None = None) -> Scorer:
    """Score with every judge (primary first); with a checkpoint ``path``, durably append the sample's row."""
    metrics = [_label_rate(name, labels) for name, labels in spec.label_rates.items()] or [mean()]

    @scorer(metrics=metrics, name=f"{spec.name}_judge")
    def make() -> Scorer:
        checkpoint = Checkpoint(Path(path), key, rank) if path else None

        async def score(state: TaskState, target: Target) -> Score:
            # the gate's sha256 of each image, for the judge cache's key (no second read of the files)
            file_media.ENCODED.know(state.metadata["images"], state.metadata.get("image_sha256"))
            scores = []
            for judge in judges:
                result = await judge.scorer(state, target)
                assert result is not None
                scores.append(result)
            row = row_of(state, scores, judges, spec)
            if checkpoint is not None:
                checkpoint.append(row)
            if progress is not None:
                progress.advance(task, row)
            # the sample is done: its encoded images are not needed again
            done_with = [*file_media.markers_in(state.messages[:1]), *state.metadata["images"]]
            file_media.ENCODED.release(done_with)
            _release_freed_memory()
            main = scores[0]  # the logs keep each image's sha256 (its bytes only with --log-images)
            metadata = {**(main.metadata or {}), "image_sha256": row["image_sha256"]}
            return main.model_copy(update={"metadata": metadata})

        return score

    return make()
