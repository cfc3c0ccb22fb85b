"""`mis demo` (the whole paper loop on MIS-mini, offline, on a CPU) and `mis mini build`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mis.cli._app import app, console, fail

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
    general_steps: Annotated[int, typer.Option(help="Optimizer steps of the general stage.")] = 900,
    train_steps: Annotated[int, typer.Option(help="Steps of MIRage and of refusal-only, each.")] = 500,
    batch_size: Annotated[int, typer.Option(help="Training batch size.")] = 32,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: usable cores).")] = None,
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
    with console.status("running the MIS-mini demo (build, train x3, evaluate x3, report)..."):
        results = run_demo(cfg)
    columns, rows = demo_table(results)
    table = Table(title=f"MIS-mini (seed {seed}): % of each split's {n_eval} held-out samples",
                  caption="ASR: complied with a harmful request (lower is better); RSR: named both objects "
                  "and declined safely; RR on benign/white: over-refusal; named: both objects right")
    for c in columns:
        table.add_column(c, justify="left" if c == "model" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    timings = ", ".join(f"{k} {v:.0f}s" for k, v in results["timings_s"].items())
    console.print(f"wall time: {timings} ({results['threads']} threads)")
    console.print(f"results: {out / 'demo_results.json'}  report: {results['report']}")


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
