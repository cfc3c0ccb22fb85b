"""`mis judge RESPONSES.jsonl ...` (judge responses produced elsewhere) and `mis judge compare RUN...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from mis._util.config import command
from mis.cli._app import app, console
from mis.cli._progress import RunProgress
from mis.cli.evaluate import show_outcome
from mis.eval.config import JudgeConfig


class JudgeGroup(TyperGroup):
    """`mis judge RESPONSES ...` runs `mis judge run`; `mis judge compare RUN...` compares judges."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Route anything that is not a subcommand (or --help) to ``run``."""
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


judge_app = typer.Typer(
    cls=JudgeGroup, no_args_is_help=True,
    help="Judge responses produced elsewhere (`mis judge RESPONSES.jsonl ...`, the same as `mis judge run`), "
         "or compare judges that judged the same responses (`mis judge compare RUN_A RUN_B`).")
app.add_typer(judge_app, name="judge")


def _run_judge(config: JudgeConfig) -> None:
    from mis.eval.commands import run_judge

    with RunProgress() as progress:
        outcome = run_judge(config, progress)
    show_outcome(outcome, "mis", config.fail_on_unknown)


judge_app.command("run", help="Judge responses produced elsewhere (the authors' JSONL format); same outputs "
                              "as `mis eval`.")(command(JudgeConfig, _run_judge, positional=("responses",)))


def _pair_tables(pair: dict[str, Any], last: str, show: int) -> None:
    table = Table(title=escape(f"{pair['a']}\n  vs {pair['b']}  (n={pair['n']})"), title_justify="left")
    for column in ("label", "agreement %", "Cohen's kappa"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for name, stats in pair["labels"].items():
        kappa = "-" if stats["kappa"] is None else f"{stats['kappa']:.3f}"
        table.add_row(name, f"{stats['agreement']:.2f}", kappa)
    console.print(table)
    matrix = pair["labels"][last]["confusion"]
    grid = Table(title=f"{last}: rows = first judge, columns = second", title_justify="left")
    grid.add_column("")
    for label in matrix:
        grid.add_column(escape(label), justify="right")
    for label, row in matrix.items():
        grid.add_row(escape(label), *(str(v) for v in row.values()))
    console.print(grid)
    for item in pair["disagreements"][:show]:
        verdicts = [str(v) for k, v in item.items()
                    if k not in ("uid", "question", "response", "explanations")]
        console.print(f"  disagree {item['uid']}: {' vs '.join(verdicts)}", highlight=False)


def _metrics_table(result: dict[str, Any]) -> Table:
    """Each judge's metrics and, after the first (the reference), the change each brings (n/a: not given)."""
    table = Table(title=escape(f"metrics per judge (Δ: minus {result['reference']})"), title_justify="left")
    table.add_column("judge", overflow="fold")
    every = {k for m in result["metrics"].values() for k in m}
    keys = [k for k in ("asr", "safe", "hr", "rsr", "rr", "unknown") if k in every] or sorted(every)
    delta_keys = [k for k in keys if any(k in d for d in result["deltas"].values())]
    for key in keys:
        table.add_column(key, justify="right")
    for key in delta_keys:
        table.add_column(f"Δ {key}", justify="right")
    for name, values in result["metrics"].items():
        change = result["deltas"].get(name, {})
        first = name == result["reference"]
        table.add_row(escape(name), *(_num(values.get(k)) for k in keys),
                      *("" if first else _num(change.get(k), sign=True) for k in delta_keys))
    return table


def _num(value: Any, *, sign: bool = False) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return f"{value:+.2f}" if sign else f"{value:.2f}"


@judge_app.command("compare")
def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Run folders that judged the same responses (2 or more).",
                                               show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the whole comparison, every disagreement included, as JSON here.")] = None,
    show: Annotated[int, typer.Option(help="Disagreeing samples to print per pair.")] = 10,
) -> None:
    """Judges of the same responses: Cohen's kappa, agreement, confusion, metric changes from the first."""
    from mis._util.io import write_json_atomic
    from mis.eval.agreement import compare

    result = compare(runs)
    for pair in result["pairs"]:
        _pair_tables(pair, result["labels"][-1], show)
    console.print(_metrics_table(result))
    if out is not None:
        write_json_atomic(out, result)
        console.print(f"comparison: {out}", highlight=False)
