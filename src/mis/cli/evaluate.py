"""`mis eval` and `mis bench`: options generated from their configs, results printed as tables.

Both write one run folder per benchmark (results.json, samples.jsonl, logs/; docs/results.md) and resume when
rerun on the same output folder. Above --fail-on-unknown percent of unknown verdicts they exit with code 5
after writing their results.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from mis._util.config import command
from mis.cli._app import app, console
from mis.cli._progress import RunProgress
from mis.eval.config import BenchConfig, EvalConfig

RATES = ("asr", "hr", "rsr", "rr", "unknown")
RECIPES = Path(str(resources.files("mis").joinpath("eval/recipes")))

bench_app = typer.Typer(
    help="The paper's other benchmarks: safety, over-refusal and general ability.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")


def mis_table(results: dict[str, Any]) -> Table:
    """MIS rates overall, per split (when several) and per non-empty category."""
    table = Table(
        title=escape(f"{results['task']} · {results['model']} · judge {results['judge']}"),
        title_justify="left",
    )
    table.add_column("bucket", overflow="fold")
    table.add_column("n", justify="right")
    for rate in RATES:
        table.add_column(rate.upper(), justify="right", no_wrap=True)
    table.add_row("overall", str(results["n"]), *_cells(results["metrics"]))
    splits = results.get("splits") or {}
    if len(splits) > 1:
        for name, part in splits.items():
            label = f"split {name}" + (" (control)" if part.get("kind") == "over_refusal" else "")
            table.add_row(label, str(part["n"]), *_cells(part["metrics"]))
    for name, bucket in results["by_category"].items():
        if bucket["n"]:
            table.add_row(escape(name), str(bucket["n"]), *_cells(bucket))
    if results.get("unavailable"):
        table.caption = escape("n/a: " + next(iter(results["unavailable"].values())))
    return table


def _cells(metrics: dict[str, Any]) -> list[str]:
    """The rate cells of a row; a rate the judge cannot give (an open guard's RSR/RR/HR) is n/a, not 0."""
    return [f"{metrics[r]:.2f}" if isinstance(metrics.get(r), int | float) else "n/a" for r in RATES]


def suite_table(results: dict[str, dict[str, Any]], not_run: dict[str, str], title: str) -> Table:
    """One row per benchmark: kind, n, the headline metric, unknown."""
    table = Table(title=escape(title), title_justify="left")
    for column in ("benchmark", "kind", "n", "headline", "unknown"):
        table.add_column(column, justify="right" if column in ("n", "unknown") else "left")
    for name, r in results.items():
        head = r["headline"]
        arrow = "↑" if head.get("higher_is_better") else "↓"
        value = "-" if head.get("value") is None else f"{head['value']:.2f}"
        table.add_row(
            name,
            r["kind"],
            str(r["n"]),
            f"{head['metric']} {value} {arrow}",
            f"{r['metrics'].get('unknown', 0.0):.2f}",
        )
    for name, why in not_run.items():
        table.add_row(name, "-", "-", escape(f"not run: {why}"), "-")
    return table


STATE_STYLE = {"ready": "green", "missing images": "bold red", "unreadable": "bold red",
               "not downloaded": "dim"}


def status_table(statuses: list[Any], title: str) -> Table:
    """A suite's data check, before anything runs: one row per benchmark, with where and how to fix it."""
    table = Table(title=escape(title), title_justify="left")
    for column in ("benchmark", "data", "status", "details / fix"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        style = STATE_STYLE.get(s.state, "")
        table.add_row(s.benchmark, escape(s.data or "-"), f"[{style}]{s.state}[/]", escape(s.detail()))
    return table


def show_outcome(outcome: Any, title: str, fail_on_unknown: float) -> None:
    """Print what a command wrote (tables, file paths), then fail if it must.

    Exit 5 above the unknown threshold; exit 3 when a benchmark given data could not run (the others did).
    """
    from mis.eval._distributed import is_main
    from mis.eval.commands import check_complete, check_unknown

    if is_main():  # data-parallel: every rank holds the outcome, rank 0 prints it (every rank exits alike)
        for name, result in outcome.results.items():
            if name == "mis":
                console.print(mis_table(result))
        others = {n: r for n, r in outcome.results.items() if n != "mis"}
        if others or outcome.not_run:
            console.print(suite_table(others, outcome.not_run, title))
        for name, folder in outcome.folders.items():
            console.print(f"{name}: {folder / 'results.json'}", highlight=False)
    check_unknown(outcome, fail_on_unknown)
    check_complete(outcome)


def _print_statuses(suite: str | None) -> Any:
    from mis.eval._distributed import is_main

    def show(statuses: list[Any]) -> None:
        if is_main():
            console.print(status_table(statuses, f"data · suite {suite}"))

    return show


def _run_eval(config: EvalConfig) -> None:
    from mis.eval.commands import run_eval

    with RunProgress() as progress:
        outcome = run_eval(config, progress, on_status=_print_statuses(config.suite))
    show_outcome(outcome, f"{config.suite or 'mis'} · {config.model}", config.fail_on_unknown)


def _run_bench(config: BenchConfig) -> None:
    from mis.eval.commands import run_bench

    with RunProgress() as progress:
        outcome = run_bench(config, progress, on_status=_print_statuses(config.suite))
    show_outcome(outcome, f"{config.suite} · {config.model}", config.fail_on_unknown)



app.command(
    "eval",
    help="Evaluate a model on MIS with the MIS judge (and, with --suite, the other benchmarks); "
    "writes results.json, samples.jsonl and logs/.",
)(command(EvalConfig, _run_eval, recipes=RECIPES))
bench_app.command("run", help="Run a benchmark suite for one model and print the headline metrics.")(
    command(BenchConfig, _run_bench)
)


@bench_app.command("list")
def list_command() -> None:
    """List the suites, their benchmarks, each one's kind, headline and the --data key it reads."""
    from mis.eval.benchmarks import registered
    from mis.eval.suite import SUITES

    specs = registered()
    table = Table(title="benchmarks", title_justify="left")
    for column in ("benchmark", "kind", "headline", "--data key", "suites"):
        table.add_column(column)
    for name, spec in specs.items():
        suites = ", ".join(s for s, members in SUITES.items() if name in members) or "-"
        arrow = "↑" if spec.higher_is_better else "↓"
        table.add_row(name, spec.kind, f"{spec.headline} {arrow}", spec.key, suites)
    console.print(table)
