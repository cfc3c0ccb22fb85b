"""The library side of `mis eval`, `mis bench run` and `mis judge`: configs -> units -> the one runner.

Each function validates its config, builds the units (one per benchmark, each with its own run folder),
runs them in one ``inspect eval`` call, and returns what was written. They never print; the CLI does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mis._util.io import write_json_atomic
from mis.errors import TooManyUnknown, UsageError
from mis.eval import runner
from mis.eval._distributed import is_main
from mis.eval._samples import ImagePolicy, split_common
from mis.eval.benchmarks import get
from mis.eval.benchmarks._common import normalize_source
from mis.eval.config import BenchConfig, EvalConfig, JudgeConfig, JudgeOptions, SuiteOptions
from mis.eval.responses import read_responses
from mis.eval.spec import Benchmark, JudgeContext
from mis.eval.suite import MISSING_IMAGES, UNREADABLE, Member, Status, SuiteIncomplete, check, members
from mis.judges import JudgeSettings, is_exact

SUITE_FILE = "suite.json"


@dataclass
class Outcome:
    """What a command wrote: each finished benchmark's results.json content, and what was not run (why)."""

    out: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    """benchmark name -> results.json content (MIS under ``mis``)."""
    folders: dict[str, Path] = field(default_factory=dict)
    """benchmark name -> its run folder."""
    not_run: dict[str, str] = field(default_factory=dict)
    """benchmark name -> why it was not run."""
    statuses: list[Status] = field(default_factory=list)
    """A suite's data check, one status per benchmark, made before anything ran."""


def judge_context(
    config: JudgeOptions, suite: SuiteOptions | None = None, *, benchmarks: bool = False
) -> JudgeContext:
    """The judges of a run; an exact judge grades MIS only, so other benchmarks get the grader role."""
    model = config.judge
    if benchmarks and is_exact(model):
        model = None
    settings = JudgeSettings(
        model=model,
        base_url=config.judge_base_url,
        max_tokens=config.judge_max_tokens,
        max_connections=config.judge_max_connections,
        request_timeout=config.judge_request_timeout,
        attempts=config.judge_attempts,
        cache=config.judge_cache,
        batch=config.judge_batch,
        batch_size=config.judge_batch_size,
        batch_delay=config.judge_batch_delay,
        batch_poll=config.judge_batch_poll,
    )
    guard = None
    if suite is not None and suite.guard:
        guard = JudgeSettings(
            model=suite.guard,
            base_url=suite.guard_base_url or config.judge_base_url,
            max_connections=config.judge_max_connections,
            request_timeout=config.judge_request_timeout,
            attempts=config.judge_attempts,
            cache=config.judge_cache,
        )
    return JudgeContext(
        judge=settings,
        guard=guard,
        guard_mode=suite.guard_mode if suite else None,
        rubric=config.judge_rubric,
        parse_retries=config.judge_parse_retries,
        protocol=config.judge_protocol,
    )


def _unit(
    spec: Benchmark,
    out: Path,
    data: str,
    task_args: dict[str, Any],
    config: Any,
    judges: JudgeContext,
    *,
    limit: int | None,
    max_tokens: int | None,
) -> runner.Unit:
    common, own = split_common(task_args)
    return runner.Unit(
        spec=spec,
        out=out,
        data=data,
        options=spec.make_options(own),
        task_args=task_args,
        limit=limit,
        max_tokens=max_tokens,
        image_mode=common.get("image_mode", "original"),
        missing=common.get("missing", "error"),
        judges=judges,
        config=config.public(),
        policy=ImagePolicy(on_invalid=config.invalid_images, allow_outside=config.allow_outside_root),
    )


#: Called with a suite's data statuses before anything runs (the CLI prints them as a table).
OnStatus = Callable[[list[Status]], None]


def _suite_units(
    config: EvalConfig | BenchConfig,
    data: dict[str, str],
    outcome: Outcome,
    max_tokens: int | None,
    *,
    flag: str = "--data",
    mis: runner.Unit | None = None,
    on_status: OnStatus | None = None,
) -> list[runner.Unit]:
    """The ready members' units (MIS's ``mis`` unit first when given and ready), after the data check."""
    assert config.suite is not None
    unknown = sorted(set(config.task_args) - {m.spec.name for m in members("all", None, {})})
    if unknown:
        raise UsageError(f"--task-arg: unknown benchmark(s) {', '.join(unknown)}")
    chosen = members(config.suite, config.only, data, flag=flag)
    task_args = {m.spec.name: dict(config.task_args.get(m.spec.name, {})) for m in chosen}
    checked = list(chosen)
    if mis is not None:  # `mis eval --suite`: MIS's data is checked in the same table
        checked.insert(0, Member(mis.spec, mis.data, "--data FOLDER"))
        task_args["mis"] = dict(mis.task_args)
    ready = _check_data(config, checked, task_args, outcome, on_status)
    units = [mis] if mis is not None and "mis" in ready else []
    for member in chosen:
        if member.spec.name not in ready:
            continue
        assert member.data is not None
        folder = Path(config.out) / member.spec.name
        outcome.folders[member.spec.name] = folder
        units.append(
            _unit(
                member.spec,
                folder,
                normalize_source(member.data),
                task_args[member.spec.name],
                config,
                judge_context(config, config, benchmarks=True),
                limit=config.limit,
                max_tokens=max_tokens,
            )
        )
    if not units and incomplete(outcome):
        _write_suite(config, outcome)
        raise SuiteIncomplete(_incomplete_message(outcome, "no benchmark is ready; nothing was run"))
    return units


def _check_data(
    config: EvalConfig | BenchConfig,
    chosen: Sequence[Member],
    task_args: dict[str, dict[str, Any]],
    outcome: Outcome,
    on_status: OnStatus | None,
) -> set[str]:
    """Check every member's data (nothing runs); report it; with ``--strict`` stop unless all are ready."""
    outcome.statuses = check(chosen, task_args)
    if on_status is not None:
        on_status(outcome.statuses)
    for status in outcome.statuses:
        if not status.ready:
            outcome.not_run[status.benchmark] = status.summary()
    if config.strict and outcome.not_run:
        _write_suite(config, outcome)
        raise SuiteIncomplete(_incomplete_message(outcome, "--strict: nothing was run", every=True))
    return {s.benchmark for s in outcome.statuses if s.ready}


def incomplete(outcome: Outcome) -> list[Status]:
    """The benchmarks given data that could not run (missing images, unreadable data)."""
    return [s for s in outcome.statuses if s.state in (MISSING_IMAGES, UNREADABLE)]


def _incomplete_message(outcome: Outcome, head: str, *, every: bool = False) -> str:
    bad = [s for s in outcome.statuses if not s.ready] if every else incomplete(outcome)
    return f"{head}; " + "; ".join(f"{s.benchmark}: {s.summary()}" for s in bad)


def check_complete(outcome: Outcome) -> None:
    """Raise :class:`SuiteIncomplete` (exit 3) when a benchmark given data was not run (the others ran)."""
    if incomplete(outcome):
        names = ", ".join(s.benchmark for s in incomplete(outcome))
        raise SuiteIncomplete(_incomplete_message(outcome, f"not run: {names}"))


def run_eval(
    config: EvalConfig, progress: runner.Progress | None = None, *, on_status: OnStatus | None = None
) -> Outcome:
    """`mis eval`: MIS (into OUT, or OUT/mis with a suite) and the suite's benchmarks (OUT/<name>).

    With a suite, every benchmark's data (MIS's included) is checked first and ``on_status`` gets the
    statuses; the ready ones run and the others are in ``Outcome.not_run`` (:func:`check_complete` turns
    that into an error); ``--strict`` runs nothing unless all are ready.
    """
    config.validate()
    out = Path(config.out)
    outcome = Outcome(out=out)
    units: list[runner.Unit] = []
    mis_unit = None
    if config.data is not None:
        folder = out / "mis" if config.suite else out
        mis_unit = _unit(
            get("mis"),
            folder,
            config.data,
            {"split": config.split, "prompt": config.prompt}
            | ({"allow_unknown_category": True} if config.allow_unknown_category else {}),
            config,
            judge_context(config, config),
            limit=config.limit,
            max_tokens=config.max_tokens,
        )
    if config.suite:
        units = _suite_units(config, config.bench_data, outcome, None, flag="--bench-data", mis=mis_unit,
                             on_status=on_status)
        if mis_unit is not None and mis_unit in units:
            outcome.folders = {"mis": mis_unit.out, **outcome.folders}
    elif mis_unit is not None:
        outcome.folders["mis"] = mis_unit.out
        units.append(mis_unit)
    _run(units, config, outcome, "pass --data for MIS or --bench-data BENCHMARK=FOLDER", progress)
    return outcome


def run_bench(
    config: BenchConfig, progress: runner.Progress | None = None, *, on_status: OnStatus | None = None
) -> Outcome:
    """`mis bench run`: the suite's benchmarks for one model, each into OUT/<name>/, plus OUT/suite.json.

    Every benchmark's data is checked first and ``on_status`` gets the statuses; the ready ones run and the
    others are in ``Outcome.not_run`` (:func:`check_complete` turns that into an error); ``--strict`` runs
    nothing unless all are ready.
    """
    config.validate()
    outcome = Outcome(out=Path(config.out))
    units = _suite_units(config, config.data, outcome, config.max_tokens, on_status=on_status)
    _run(units, config, outcome, "pass --data BENCHMARK=FOLDER (see `mis bench list`)", progress)
    return outcome


def run_judge(config: JudgeConfig, progress: runner.Progress | None = None) -> Outcome:
    """`mis judge`: judge responses produced elsewhere (the authors' JSONL); same outputs as `mis eval`."""
    config.validate()
    policy = ImagePolicy(on_invalid=config.invalid_images, allow_outside=config.allow_outside_root)
    Path(config.out).mkdir(parents=True, exist_ok=True)
    responses = read_responses(config.responses, config.data, limit=config.limit, policy=policy)
    model_name = config.model or Path(config.responses).stem
    spec = get("mis")
    unit = runner.Unit(
        spec=spec,
        out=Path(config.out),
        data=config.data,
        options=spec.make_options({}),
        judges=judge_context(config),
        config=config.public(),
        selection=(responses.samples, responses.fingerprint),
        invalid=responses.invalid,
        identity_extra={"model": model_name, "responses_fingerprint": responses.fingerprint},
    )
    outcome = Outcome(out=Path(config.out), folders={"mis": Path(config.out)})
    # no model under test: inspect's sample concurrency would start at its default of 10 and grow only
    # adaptively, so --judge-max-connections could go unused; one sample in flight per judge connection
    # (with --judge-batch, enough samples to fill batches: 10 batches' worth)
    at_once = config.judge_max_connections or (10 * config.judge_batch_size if config.judge_batch else None)
    samples_at_once = {"max_samples": at_once} if at_once else {}
    results = runner.run([unit], None, log_dir=Path(config.out) / "logs", bootstrap=config.bootstrap,
                         log_images=config.log_images, progress=progress, inspect_args=samples_at_once)
    result = results[0] | {"task": responses.task, "responses": str(Path(config.responses).resolve())}
    if is_main():  # data-parallel: rank 0 alone writes the final files
        write_json_atomic(Path(config.out) / runner.RESULTS_FILE, result)
    outcome.results["mis"] = result
    return outcome


def _run(units: list[runner.Unit], config: EvalConfig | BenchConfig, outcome: Outcome, hint: str,
         progress: runner.Progress | None) -> None:
    """Run every unit in one inspect eval (one model load); the suite file is written even when it stops."""
    if not units:
        raise UsageError(f"suite {config.suite!r}: no data given for any benchmark; {hint}")
    try:
        results = runner.run(units, config, log_dir=Path(config.out) / "logs", bootstrap=config.bootstrap,
                             log_images=config.log_images, progress=progress)
    finally:
        if config.suite:
            _write_suite(config, outcome)
    for result in results:
        outcome.results[result["benchmark"]] = result
    if config.suite:
        _write_suite(config, outcome)


def _write_suite(config: EvalConfig | BenchConfig, outcome: Outcome) -> None:
    if not is_main():  # data-parallel: rank 0 alone writes the final files
        return
    outcome.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        outcome.out / SUITE_FILE,
        {
            "suite": config.suite,
            "model": config.model,
            "judge": config.judge,
            "guard": config.guard,
            "benchmarks": {
                name: {
                    "status": "done" if (folder / runner.RESULTS_FILE).is_file() else "not finished",
                    "folder": str(folder),
                }
                for name, folder in outcome.folders.items()
            }
            | {name: {"status": "not run", "why": why} for name, why in outcome.not_run.items()},
            "data_check": {s.benchmark: s.to_json() for s in outcome.statuses},
        },
    )


def check_unknown(outcome: Outcome, threshold: float) -> None:
    """Raise :class:`TooManyUnknown` when a benchmark's unknown rate is above ``threshold`` percent."""
    over = [(name, r) for name, r in outcome.results.items() if r["metrics"].get("unknown", 0.0) > threshold]
    if over:
        parts = ", ".join(
            f"{name}: {r['unknown']} of {r['n']} ({r['metrics']['unknown']:.2f}%)" for name, r in over
        )
        raise TooManyUnknown(
            f"too many unknown judgements ({parts} > --fail-on-unknown {threshold:g}%): the judge "
            "refused, failed or gave no valid verdict. Results were written; see 'judge_error' in "
            "each samples.jsonl"
        )
