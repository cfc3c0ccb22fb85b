"""Command line of the benchmark suites (thin: parse, call :func:`run_suite`, print).

Runs as ``python -m mis.eval.benchmarks run ...``; ``bench_app`` is a Typer app the ``mis`` command
can mount (``app.add_typer(bench_app, name="bench")``) or reuse for ``mis eval --suite``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mis.eval.benchmarks.suite import DATA_KEY, SUITES, SuiteConfig, run_suite

bench_app = typer.Typer(
    help="The paper's other benchmarks: safety, over-refusal and general ability.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)
#: Headline metric shown per benchmark in the summary table.
HEADLINE = (
    "asr",
    "safe_rate",
    "unsafe_acc",
    "safe_acc",
    "refusal_rate",
    "refusal_rate_white",
    "accuracy",
    "unknown",
)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        if "=" not in value:
            raise typer.BadParameter(f"expects NAME=VALUE, got {value!r}", param_hint=option)
        key, val = value.split("=", 1)
        out[key.strip()] = val.strip()
    return out


def _typed(value: str) -> Any:
    import yaml

    return yaml.safe_load(value)  # numbers and booleans typed, the rest stays text


def suite_config(
    guard: str | None,
    guard_mode: str | None,
    judge_base_url: str | None,
    model_base_url: str | None,
    model_arg: list[str],
    task_arg: list[str],
    limit: int | None,
    max_tokens: int | None,
) -> SuiteConfig:
    """The SuiteConfig of command-line options (``--task-arg figstep.subset=SafeBench-Tiny``)."""
    task_args: dict[str, dict[str, Any]] = {}
    for key, value in _pairs(task_arg, "--task-arg").items():
        if "." not in key:
            raise typer.BadParameter(f"expects BENCHMARK.KEY=VALUE, got {key!r}", param_hint="--task-arg")
        bench, arg = key.split(".", 1)
        task_args.setdefault(bench, {})[arg] = _typed(value)
    return SuiteConfig(
        guard=guard,
        guard_mode=guard_mode,
        judge_base_url=judge_base_url,
        model_base_url=model_base_url,
        model_args={k: _typed(v) for k, v in _pairs(model_arg, "--model-arg").items()},
        limit=limit,
        max_tokens=max_tokens,
        task_args=task_args,
    )


@bench_app.command("run")
def run_command(
    model: Annotated[str, typer.Option(help="Model under test: hfvlm/PATH, vllm/ID, openai/ID, ...")],
    out: Annotated[Path, typer.Option(help="Output folder: OUT/<benchmark>/results.json; rerun to resume.")],
    data: Annotated[
        list[str], typer.Option(help="BENCHMARK=FOLDER or hub id (repeatable), e.g. figstep=./FigStep.")
    ],
    suite: Annotated[str, typer.Option(help=f"Suite: {', '.join(SUITES)}.")] = "paper",
    judge: Annotated[
        str | None, typer.Option(help="VLM judge (SIUO, MSSBench, MOSSBench, white image).")
    ] = None,
    guard: Annotated[
        str | None,
        typer.Option(
            help="Llama Guard for FigStep/MM-SafetyBench/JailBreakV (default: --judge in prompt mode)."
        ),
    ] = None,
    guard_mode: Annotated[
        str | None, typer.Option(help="chat or prompt (default chat with --guard).")
    ] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible URL of the judge.")] = None,
    model_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible URL of the model.")] = None,
    model_arg: Annotated[list[str] | None, typer.Option(help="Provider arg KEY=VALUE (repeatable).")] = None,
    task_arg: Annotated[list[str] | None, typer.Option(help="BENCHMARK.KEY=VALUE task argument.")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Run only these benchmarks of the suite.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N samples per benchmark.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Override every task's token budget.")] = None,
) -> None:
    """Run a benchmark suite for one model and print the headline metrics."""
    from mis.eval.benchmarks._common import BenchmarkDataError

    config = suite_config(
        guard, guard_mode, judge_base_url, model_base_url, model_arg or [], task_arg or [], limit, max_tokens
    )
    try:
        summary = run_suite(suite, model, judge, _pairs(data, "--data"), out, config, benchmarks=only)
    except (BenchmarkDataError, ValueError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    show_suite(summary, suite, model, out)


def show_suite(summary: dict[str, Any], suite: str, model: str, out: Path) -> None:
    """Print the suite's headline metrics per benchmark (shared with `mis eval --suite`)."""
    table = Table(title=f"{suite} · {model}", title_justify="left")
    for column in ("benchmark", "kind", "n", "metrics"):
        table.add_column(column)
    for name, result in summary["results"].items():
        shown = ", ".join(f"{k} {result['metrics'][k]:.2f}" for k in HEADLINE if k in result["metrics"])
        table.add_row(name, result["kind"], str(result["n"]), shown)
    console.print(table)
    for name, why in summary["skipped"].items():
        console.print(f"skipped {name}: {why}", highlight=False)
    console.print(f"results: {out}/<benchmark>/results.json", highlight=False)


@bench_app.command("list")
def list_command() -> None:
    """List the suites, their benchmarks and the --data key each one reads."""
    table = Table(title="benchmark suites", title_justify="left")
    table.add_column("suite")
    table.add_column("benchmarks (--data key)")
    for name, members in SUITES.items():
        table.add_row(name, ", ".join(b if DATA_KEY[b] == b else f"{b} ({DATA_KEY[b]})" for b in members))
    console.print(table)
