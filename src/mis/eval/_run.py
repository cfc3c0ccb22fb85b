"""Run an evaluation resumably: select samples, skip finished ones, run the rest, write results.

`run_eval(EvalConfig)` (MIS by default) and `run_judge(JudgeConfig)` (responses produced elsewhere)
share one core: a run folder holds ``run.json`` (identity + config), ``checkpoint.jsonl`` (finished
sample records, fsynced one by one), ``generations.jsonl`` (responses kept as soon as they are
generated, so a judge failure never costs a regeneration), ``logs/`` (inspect logs), then
``samples.jsonl`` and ``results.json`` written last and atomically from the union of finished
records. Rerunning the same command on the same folder runs only the missing samples; a different
model, judge, rubric, prompt or data is refused. Other benchmarks plug in through :func:`register_benchmark`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset
from inspect_ai.dataset import Sample as InspectSample
from inspect_ai.model import GenerateConfig, Model, ModelOutput, get_model
from inspect_ai.scorer import Score, Scorer, Target, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from mis.eval._checkpoint import CHECKPOINT_FILE, Checkpoint, run_key, write_atomic
from mis.eval._config import EvalConfig, JudgeConfig
from mis.eval._judge import _local_key_args, asr, hr, rr, rsr, unknown

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
GENERATIONS_FILE = "generations.jsonl"
RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"


class RunMismatchError(ValueError):
    """The output folder holds a run with another identity (model, judge, prompt, data ...)."""


class EvalRunError(RuntimeError):
    """The inspect run failed; finished samples are kept and a rerun continues from them."""


@dataclass(frozen=True)
class Selection:
    """What a benchmark selected for a run: the inspect samples plus identifying facts."""

    task: str
    samples: list[InspectSample]
    fingerprint: str
    info: dict[str, Any]


@dataclass(frozen=True)
class Benchmark:
    """How to evaluate one benchmark with the shared runner (dataset, scorer, record, summary)."""

    name: str
    select: Callable[[EvalConfig], Selection]
    scorer: Callable[[EvalConfig], Scorer]
    identity: Callable[[EvalConfig], dict[str, Any]]
    record: Callable[[TaskState, Score], dict[str, Any]]
    summarize: Callable[[list[dict[str, Any]], int], dict[str, Any]]
    metrics: list[Any] | None = None


_BENCHMARKS: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    """Make ``benchmark`` runnable with ``run_eval(EvalConfig(benchmark=name, ...))``."""
    _BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark ``name`` (MIS is always there)."""
    if name not in _BENCHMARKS:
        import mis.eval._mis_bench  # noqa: F401  (registers "mis")
    if name not in _BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; registered: {', '.join(sorted(_BENCHMARKS))}")
    return _BENCHMARKS[name]


@scorer(metrics=[asr(), hr(), rsr(), rr(), unknown()])
def checkpointed(inner: Scorer, path: str, key: str, benchmark: str = "mis") -> Scorer:
    """Score with ``inner``, then durably append the finished sample's record to the checkpoint."""
    checkpoint = Checkpoint(Path(path), key)
    record = get_benchmark(benchmark).record

    async def score(state: TaskState, target: Target) -> Score:
        result = await inner(state, target)
        assert result is not None
        checkpoint.append(record(state, result))
        return result

    return score


@solver
def resumable_generate(path: str, key: str) -> Solver:
    """Generate, keeping each response durably; a sample generated before a crash is not generated again.

    The judge may fail or be killed after generation (it is often the slower, rate-limited part);
    on rerun such a sample reuses its recorded response and only the judgement runs.
    """
    store = Checkpoint(Path(path), key)
    recorded = store.load()

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        uid = str(state.sample_id)
        if uid in recorded:
            kept = recorded[uid]
            state.output = ModelOutput.from_content(model=kept["model"], content=kept["response"])
            state.messages.append(state.output.message)
            return state
        state = await generate(state)
        if not state.output.error:
            store.append({"uid": uid, "model": state.output.model, "response": state.output.completion})
        return state

    return solve


def run_eval(config: EvalConfig) -> dict[str, Any]:
    """Evaluate ``config.model`` on the selected samples; return the results.json content."""
    config.validate()
    bench = get_benchmark(config.benchmark)
    selection = bench.select(config)
    identity = {"benchmark": bench.name, "task": selection.task, "model": config.model,
                **bench.identity(config), **selection.info, "data_fingerprint": selection.fingerprint}
    model_args = dict(config.model_args)
    if config.batch_size is not None:
        model_args["batch_size"] = config.batch_size

    def make_model() -> Model:
        key_args = _local_key_args(config.model, config.model_base_url)
        return get_model(config.model, base_url=config.model_base_url, memoize=False,
                         config=GenerateConfig(temperature=config.temperature, max_tokens=config.max_tokens),
                         **key_args, **model_args)

    out = Path(config.out)
    return execute(
        out=out, identity=identity, selection=selection, bench=bench, scorer=bench.scorer(config),
        solver=lambda key: resumable_generate(str(out / GENERATIONS_FILE), key), make_model=make_model,
        config=config.public(),
        max_connections=config.max_connections, bootstrap=config.bootstrap,
        extra={"model_base_url": config.model_base_url, "judge_base_url": config.judge_base_url,
               "prompt": config.prompt,
               "generate_config": {"temperature": config.temperature, "max_tokens": config.max_tokens}},
    )


def run_judge(config: JudgeConfig) -> dict[str, Any]:
    """Judge responses produced elsewhere (the authors' JSONL); same outputs as :func:`run_eval`."""
    from mis.eval._mis_bench import mis_identity, mis_scorer
    from mis.eval._responses import read_responses, replay_response

    bench = get_benchmark("mis")
    selection = read_responses(config.responses, config.data, limit=config.limit)
    model_name = config.model or Path(config.responses).stem
    proxy = EvalConfig(data=config.data, model=model_name, judge=config.judge, out=config.out,
                       judge_base_url=config.judge_base_url, judge_rubric=config.judge_rubric,
                       judge_max_tokens=config.judge_max_tokens,
                       judge_parse_retries=config.judge_parse_retries,
                       judge_max_connections=config.max_connections)
    identity = {"benchmark": "mis", "task": selection.task, "model": model_name, **mis_identity(proxy),
                "responses_fingerprint": selection.fingerprint}
    return execute(
        out=Path(config.out), identity=identity, selection=selection, bench=bench, scorer=mis_scorer(proxy),
        solver=lambda key: replay_response(), make_model=lambda: get_model("none/none"),
        config=config.public(),
        max_connections=None, bootstrap=config.bootstrap,
        extra={"responses": str(Path(config.responses).resolve()), "judge_base_url": config.judge_base_url},
    )


def execute(
    *,
    out: Path,
    identity: dict[str, Any],
    selection: Selection,
    bench: Benchmark,
    scorer: Scorer,
    solver: Callable[[str], Solver],
    make_model: Callable[[], Model],
    config: dict[str, Any],
    max_connections: int | None,
    bootstrap: int,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The shared resumable core (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    key = run_key(identity)
    _claim(out, key, identity, config)
    checkpoint = Checkpoint(out / CHECKPOINT_FILE, key)
    done = checkpoint.load()
    todo = [s for s in selection.samples if s.id not in done]
    logger.info("%s: %d samples selected, %d already finished, %d to run",
                selection.task, len(selection.samples), len(selection.samples) - len(todo), len(todo))
    if todo:
        task = Task(
            dataset=MemoryDataset(todo, name=selection.task),
            solver=solver(key),
            scorer=checkpointed(scorer, str(out / CHECKPOINT_FILE), key, bench.name),
            metrics=bench.metrics,
            name=selection.task,
            metadata={"mis_run_key": key},
        )
        logs = inspect_eval(task, model=make_model(), log_dir=str(out / "logs"),
                            max_connections=max_connections, fail_on_error=True, score=True)
        log = logs[0]
        if log.status != "success":
            why = log.error.message if log.error else log.status
            raise EvalRunError(f"{selection.task}: the run stopped ({why}); finished samples are kept in "
                               f"{out / CHECKPOINT_FILE}: rerun the same command to continue")
        done = checkpoint.load()
    missing = [s.id for s in selection.samples if s.id not in done]
    if missing:
        raise EvalRunError(f"{len(missing)} samples have no finished record (first: {missing[0]}); "
                           "rerun the same command to finish them")
    rows = [{k: v for k, v in done[str(s.id)].items() if k != "key"} for s in selection.samples]
    results = {
        "task": selection.task,
        "model": identity["model"],
        "judge": identity.get("judge"),
        "judge_prompt_sha256": identity.get("judge_prompt_sha256"),
        "judge_config": identity.get("judge_config"),
        **bench.summarize(rows, bootstrap),
        "mis_version": _version(),
        "data_fingerprint": selection.fingerprint,
        **extra,
        "run_key": key,
        "logs": sorted(str(p.relative_to(out)) for p in (out / "logs").glob("*.eval")),
    }
    write_atomic(out / SAMPLES_FILE, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    write_atomic(out / RESULTS_FILE, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def _claim(out: Path, key: str, identity: dict[str, Any], config: dict[str, Any]) -> None:
    """Write run.json, or refuse when the folder already holds work of a run with another identity."""
    path = out / RUN_FILE
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        started = any((out / name).is_file() and (out / name).stat().st_size > 0
                      for name in (CHECKPOINT_FILE, GENERATIONS_FILE, RESULTS_FILE))
        if previous.get("key") != key and started:
            old = previous.get("identity", {})
            diff = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
            detail = "; ".join(f"{k}: {old.get(k)!r} -> {identity.get(k)!r}" for k in diff[:4])
            raise RunMismatchError(f"{out} holds a different run ({detail}). Use another --out, or delete "
                                   f"{out} to start over.")
    write_atomic(path, json.dumps({"key": key, "identity": identity, "config": config}, indent=2) + "\n")


def _version() -> str:
    from mis import __version__

    return __version__
