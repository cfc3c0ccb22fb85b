"""`mis eval` and `mis judge`: evaluate a model on MIS, or judge responses produced elsewhere.

Both write OUT/results.json, OUT/samples.jsonl and the inspect logs under OUT/logs/, and resume when
rerun on the same OUT. Above --fail-on-unknown percent of unknown verdicts they exit with code 3
after writing their results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mis.cli._app import app, console, err_console, fail

UNKNOWN_EXIT_CODE = 3
_RATES = ("asr", "hr", "rsr", "rr", "unknown")


def _parse_model_args(pairs: list[str]) -> dict[str, Any]:
    import yaml

    args: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise fail(f"--model-arg expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        args[key.strip()] = yaml.safe_load(value)  # numbers, booleans and JSON-ish values typed
    return args


def _show(results: dict[str, Any], out: Path) -> None:
    table = Table(title=f"{results['task']} · {results['model']} · judge {results['judge']}",
                  title_justify="left")
    table.add_column("bucket")
    table.add_column("n", justify="right")
    for rate in _RATES:
        table.add_column(rate.upper(), justify="right")
    table.add_row("overall", str(results["n"]), *(f"{results['metrics'][r]:.2f}" for r in _RATES))
    for name, bucket in results["by_category"].items():
        if bucket["n"]:
            table.add_row(name, str(bucket["n"]), *(f"{bucket[r]:.2f}" for r in _RATES))
    console.print(table)
    console.print(f"results: {out / 'results.json'}  samples: {out / 'samples.jsonl'}  logs: {out / 'logs'}",
                  highlight=False)


def _finish(results: dict[str, Any], out: Path, fail_on_unknown: float) -> None:
    _show(results, out)
    rate = results["metrics"]["unknown"]
    if rate > fail_on_unknown:
        err_console.print(
            f"[bold red]error:[/] {results['unknown']} of {results['n']} judgements are unknown "
            f"({rate:.2f}% > "
            f"--fail-on-unknown {fail_on_unknown:g}%): the judge refused or gave no valid verdict. Results "
            f"were written; check the judge (see 'explanation' in {out / 'samples.jsonl'}).",
            highlight=False, soft_wrap=True,
        )
        raise typer.Exit(UNKNOWN_EXIT_CODE)


@app.command("eval")
def eval_command(
    model: Annotated[str, typer.Option(help="Model under test: hfvlm/PATH, vllm/ID, openai/ID, "
                                            "openai-api/SERVICE/ID ...")],
    judge: Annotated[str, typer.Option(help="Judge: an inspect model string (e.g. openai/gpt-4o-2024-11-20) "
                                            "or exact/NAME.")],
    out: Annotated[Path, typer.Option(help="Output folder; rerun on the same folder to resume.")],
    data: Annotated[str | None, typer.Option(
        help="MIS folder (test layout) or hub id, e.g. Tuwhy/MIS_Test. Required unless --suite runs other "
             "benchmarks only.")] = None,
    split: Annotated[str, typer.Option(help="easy, hard, real or all.")] = "hard",
    prompt: Annotated[str, typer.Option(help="paper, plain, step, two_step, safety_cot, or a template "
                                             "file.")] = "paper",
    model_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible URL of the model.")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible URL of the judge.")] = None,
    model_arg: Annotated[list[str] | None, typer.Option(help="Provider model arg KEY=VALUE (repeatable), "
                                                             "e.g. dtype=bfloat16.")] = None,
    max_connections: Annotated[int | None, typer.Option(min=1, help="Concurrent model requests.")] = None,
    judge_max_connections: Annotated[int | None, typer.Option(
        min=1, help="Concurrent judge requests.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N samples.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="hfvlm: requests per batch.")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="New tokens of the model under test.")] = 1024,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 = greedy (paper).")] = 0.0,
    judge_rubric: Annotated[str, typer.Option(help="Rubric template name or file.")] = "mis_rubric",
    judge_max_tokens: Annotated[int, typer.Option(min=16, help="Judge decoding budget.")] = 512,
    fail_on_unknown: Annotated[float, typer.Option(min=0.0, max=100.0, help="Exit non-zero above this % "
                                                                            "of unknown verdicts.")] = 2.0,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for 95% intervals.")] = 0,
    suite: Annotated[str | None, typer.Option(help="Also run a benchmark suite (paper, safety, over-refusal, "
                                                   "general, all): MIS goes to OUT/mis/, each benchmark "
                                                   "to OUT/<benchmark>/. See docs/benchmarks.md.")] = None,
    bench_data: Annotated[list[str] | None, typer.Option(
        help="With --suite: BENCHMARK=FOLDER or hub id (repeatable), e.g. figstep=./FigStep.")] = None,
    guard: Annotated[str | None, typer.Option(help="With --suite: Llama Guard model for FigStep, "
                                                   "MM-SafetyBench, JailBreakV (default: --judge).")] = None,
    guard_mode: Annotated[str | None, typer.Option(help="With --suite: chat or prompt.")] = None,
) -> None:
    """Evaluate a model on MIS with the MIS judge; writes results.json, samples.jsonl and logs/."""
    from mis.eval._config import EvalConfig
    from mis.eval._run import EvalRunError, RunMismatchError, run_eval

    if suite is None and data is None:
        raise fail("--data is required (a MIS folder or hub id), unless --suite runs other benchmarks")
    if suite is not None:
        _run_suite(suite, model, judge, out, data, split, bench_data or [], guard, guard_mode,
                   judge_base_url, model_base_url, model_arg or [], limit, fail_on_unknown)
        return
    assert data is not None
    config = EvalConfig(
        data=data, model=model, judge=judge, out=out, split=split, prompt=prompt,
        model_base_url=model_base_url, judge_base_url=judge_base_url,
        model_args=_parse_model_args(model_arg or []), batch_size=batch_size, max_connections=max_connections,
        judge_max_connections=judge_max_connections,
        limit=limit, max_tokens=max_tokens, temperature=temperature, judge_rubric=judge_rubric,
        judge_max_tokens=judge_max_tokens, fail_on_unknown=fail_on_unknown, bootstrap=bootstrap,
    )
    try:
        config.validate()
        results = run_eval(config)
    except (ValueError, RunMismatchError, EvalRunError) as exc:
        raise fail(str(exc)) from None
    _finish(results, out, fail_on_unknown)


def _run_suite(
    suite: str, model: str, judge: str, out: Path, data: str | None, split: str, bench_data: list[str],
    guard: str | None, guard_mode: str | None, judge_base_url: str | None, model_base_url: str | None,
    model_arg: list[str], limit: int | None, fail_on_unknown: float,
) -> None:
    """`mis eval --suite`: MIS (when --data is given) into OUT/mis/, then the suite's benchmarks into OUT/."""
    from mis.eval._config import EvalConfig
    from mis.eval._run import EvalRunError, RunMismatchError, run_eval
    from mis.eval.benchmarks import run_suite
    from mis.eval.benchmarks._common import BenchmarkDataError
    from mis.eval.benchmarks.cli import _pairs, show_suite, suite_config

    mis_results = None
    if data is not None:
        config = EvalConfig(data=data, model=model, judge=judge, out=out / "mis", split=split,
                            model_base_url=model_base_url, judge_base_url=judge_base_url,
                            model_args=_parse_model_args(model_arg), limit=limit,
                            fail_on_unknown=fail_on_unknown)
        try:
            config.validate()
            mis_results = run_eval(config)
        except (ValueError, RunMismatchError, EvalRunError) as exc:
            raise fail(str(exc)) from None
        _show(mis_results, out / "mis")
    exact = judge.startswith("exact/")
    try:
        summary = run_suite(suite, model, None if exact else judge, _pairs(bench_data, "--bench-data"), out,
                            suite_config(guard, guard_mode, judge_base_url, model_base_url, model_arg, [],
                                         limit, None))
    except (BenchmarkDataError, ValueError) as exc:
        raise fail(str(exc)) from None
    show_suite(summary, suite, model, out)
    if mis_results is not None and mis_results["metrics"]["unknown"] > fail_on_unknown:
        _finish(mis_results, out / "mis", fail_on_unknown)


@app.command("judge")
def judge_command(
    responses: Annotated[Path, typer.Argument(help="Responses JSONL (question, response, image_path1, "
                                                   "image_path2, category [, sub_category, id]).")],
    data: Annotated[str, typer.Option(help="Folder the image paths are relative to (MIS test root).")],
    judge: Annotated[str, typer.Option(help="Judge: an inspect model string or exact/NAME.")],
    out: Annotated[Path, typer.Option(help="Output folder; rerun on the same folder to resume.")],
    model: Annotated[str | None, typer.Option(help="Name of the model that wrote the responses "
                                                   "(default: the file name).")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible URL of the judge.")] = None,
    max_connections: Annotated[int | None, typer.Option(min=1, help="Concurrent judge requests.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N responses.")] = None,
    judge_rubric: Annotated[str, typer.Option(help="Rubric template name or file.")] = "mis_rubric",
    judge_max_tokens: Annotated[int, typer.Option(min=16, help="Judge decoding budget.")] = 512,
    fail_on_unknown: Annotated[float, typer.Option(min=0.0, max=100.0, help="Exit non-zero above this % "
                                                                            "of unknown verdicts.")] = 2.0,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for 95% intervals.")] = 0,
) -> None:
    """Judge responses produced elsewhere (the authors' JSONL format); same outputs as `mis eval`."""
    from mis.eval._config import JudgeConfig
    from mis.eval._run import EvalRunError, RunMismatchError, run_judge

    config = JudgeConfig(
        responses=responses, data=data, judge=judge, out=out, model=model, judge_base_url=judge_base_url,
        max_connections=max_connections, limit=limit, judge_rubric=judge_rubric,
        judge_max_tokens=judge_max_tokens, fail_on_unknown=fail_on_unknown, bootstrap=bootstrap,
    )
    try:
        results = run_judge(config)
    except (ValueError, RunMismatchError, EvalRunError) as exc:
        raise fail(str(exc)) from None
    _finish(results, out, fail_on_unknown)
