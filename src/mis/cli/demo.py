"""`mis demo` (the whole paper loop on MIS-mini, offline, on a CPU) and `mis mini build`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mis.cli._app import app, console, err_console, fail
from mis.cli.train import training_progress

if TYPE_CHECKING:
    from rich.status import Status

    from mis.mini import DemoEvent
    from mis.train import TrainProgress

mini_app = typer.Typer(help="MIS-mini: a procedurally rendered multi-image safety world.",
                       no_args_is_help=True)
app.add_typer(mini_app, name="mini")


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder (rerun the same command to resume).")],
    seed: Annotated[int, typer.Option(help="Seed of the world, the model init and training order.")] = 0,
    n_train: Annotated[int, typer.Option(help="Harmful training samples made by `mis build`.")] = 600,
    n_general: Annotated[int, typer.Option(help="General samples (captions + helpful answers).")] = 1500,
    n_eval: Annotated[int, typer.Option(help="Samples per split (easy, hard, benign, white).")] = 100,
    general_steps: Annotated[int, typer.Option(help="Optimizer steps of the general stage.")] = 700,
    train_steps: Annotated[int, typer.Option(help="Steps of MIRage and of refusal-only, each.")] = 400,
    batch_size: Annotated[int, typer.Option(help="Training batch size.")] = 32,
    threads: Annotated[int | None, typer.Option(
        help="torch CPU threads (default: chosen per stage from the cores other work leaves idle).")] = None,
) -> None:
    """Build MIS-mini, train a tiny VLM (general stage, MIRage, refusal-only), evaluate, report."""
    from mis.mini import DemoConfig, demo_table, run_demo

    for name, value in (("--n-train", n_train), ("--n-general", n_general), ("--n-eval", n_eval),
                        ("--general-steps", general_steps), ("--train-steps", train_steps),
                        ("--batch-size", batch_size)):
        if value < 1:
            raise fail(f"{name} must be >= 1, got {value}")
    if threads is not None and threads < 1:
        raise fail(f"--threads must be >= 1, got {threads}")
    cfg = DemoConfig(out=out, seed=seed, n_train=n_train, n_general=n_general, n_eval=n_eval,
                     general_steps=general_steps, train_steps=train_steps, batch_size=batch_size,
                     threads=threads)
    with demo_display() as on_event:
        results = run_demo(cfg, on_event)
    columns, rows = demo_table(results)
    table = Table(title=f"MIS-mini (seed {seed}): % of each split's {n_eval} held-out samples",
                  caption="ASR: complied with a harmful request (lower is better); RSR: named both objects "
                  "and declined safely; RR on benign/white: over-refusal; named: both objects right")
    for c in columns:
        table.add_column(c, justify="left" if c == "model" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    cached = set(results.get("cached", []))
    timings = ", ".join(f"{k} {v:.0f}s" + (" (cached)" if k in cached else "")
                        for k, v in results["timings_s"].items())
    used = "/".join(str(t) for t in sorted({t for ts in results["threads"].values() for t in ts})) or "-"
    console.print(f"wall time: {timings}; torch threads {used}", highlight=False)
    console.print(f"results: {out / 'demo_results.json'}  report: {results['report']}")


@contextlib.contextmanager
def demo_display() -> Iterator[Callable[[DemoEvent], None]]:
    """One line per stage (what it does, how long it took, or that it was reused) and a training bar."""
    spinner: list[Status] = []
    stages: dict[str, Callable[[TrainProgress], None]] = {}
    bars: list[contextlib.ExitStack] = []

    def close() -> None:
        for s in spinner:
            s.stop()
        spinner.clear()
        for b in bars:
            b.close()
        bars.clear()
        stages.clear()

    def on_event(event: DemoEvent) -> None:
        if event.kind == "cached":
            err_console.print(f"[dim]- {event.stage}: reused ({event.seconds:.0f} s when it ran): "
                              f"{event.what}[/]", highlight=False)
        elif event.kind == "start":
            err_console.print(f"> {event.stage}: {event.what}", highlight=False)
            if not event.stage.startswith("train_"):
                spinner.append(err_console.status(f"{event.stage}..."))
                spinner[0].start()
        elif event.kind == "done":
            close()
            err_console.print(f"[green]done[/] {event.stage} in {event.seconds:.0f} s", highlight=False)
        elif event.kind == "train" and event.train is not None:
            if event.stage not in stages:
                stack = contextlib.ExitStack()
                stages[event.stage] = stack.enter_context(training_progress(event.stage))
                bars.append(stack)
            stages[event.stage](event.train)

    try:
        yield on_event
    finally:
        close()


@mini_app.command("build")
def mini_build(
    out: Annotated[Path, typer.Option("--out", help="Output folder: mis_mini/ (MIS layout) and general/.")],
    seed: Annotated[int, typer.Option(help="Seed of held-out pairs, sampling and renders.")] = 0,
    n_train: Annotated[int, typer.Option(help="Harmful training samples.")] = 600,
    n_general: Annotated[int, typer.Option(help="General samples (0: none).")] = 1500,
    n_eval: Annotated[int, typer.Option(help="Samples per test split.")] = 100,
) -> None:
    """Make MIS-mini with `mis build` and the world's offline backends, plus the controls."""
    from mis.mini import MiniConfig, build_mini

    if min(n_train, n_eval) < 1 or n_general < 0:
        raise fail("--n-train and --n-eval must be >= 1 and --n-general >= 0")
    folders = build_mini(MiniConfig(seed=seed, n_train=n_train, n_general=n_general, n_eval=n_eval), out)
    for name, path in folders.items():
        console.print(f"{name}: {path}")
