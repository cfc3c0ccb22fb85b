"""`mis train` (fine-tune a VLM with TRL) and `mis train merge` (fold a LoRA adapter into its base).

Thin: the options are generated from `mis.train.TrainConfig` (one per field, its help text and panel), the
recipe and the options given resolve in the library (`resolve_config`), and `mis.train.train` runs.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mis._util.config import command, extra
from mis.cli._app import app, console, err_console, fail
from mis.train._config import TrainConfig

if TYPE_CHECKING:
    from mis.train import TrainProgress

train_app = typer.Typer(
    name="train",
    help="MIRage fine-tuning of any transformers VLM (TRL SFTTrainer + PEFT). See docs/train.md.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(train_app, name="train")


def _list_recipes(value: bool) -> None:
    """Eager ``--list-recipes``: print the packaged recipes and accelerate configs, run nothing."""
    if not value:
        return
    from mis.train import available_accelerate_configs, available_recipes

    console.print("recipes: " + ", ".join(available_recipes()), highlight=False)
    console.print("accelerate configs: " + ", ".join(available_accelerate_configs()), highlight=False)
    raise typer.Exit()


def _resolve(recipe: str | None, given: dict[str, Any]) -> TrainConfig:
    from mis.train import resolve_config

    return resolve_config(recipe, **given)


def _run_train(config: TrainConfig, *, print_launch: bool, list_recipes: bool) -> None:
    """Train in this process, or (``--accelerate``) hand the resolved config to ``accelerate launch``."""
    from mis.train import train
    from mis.train._launch import LAUNCHED_ENV, launch

    if config.accelerate and not os.environ.get(LAUNCHED_ENV):
        cmd, code = launch(config, dry_run=print_launch)
        console.print(shlex.join(cmd), highlight=False, soft_wrap=True)
        if code:
            raise fail(f"accelerate launch exited with status {code}", code)
        return
    with training_progress("training") as on_progress:
        result = train(config, on_progress=on_progress)
    console.print(f"trained model: {result}", highlight=False)


train_app.callback(invoke_without_command=True)(
    command(
        TrainConfig,
        _run_train,
        resolver=_resolve,
        recipe_help="Packaged recipe (see --list-recipes) or a YAML file of TrainConfig fields; options "
        "given here override it.",
        extras=(
            extra("print_launch", bool, typer.Option(
                False, "--print-launch", help="With --accelerate: print the accelerate command; don't run.",
                rich_help_panel="Memory, speed and launch")),
            extra("list_recipes", bool, typer.Option(
                False, "--list-recipes", help="List the packaged recipes and accelerate configs.",
                is_eager=True, callback=_list_recipes)),
        ),
    )
)
train_app.info.help = (
    "Fine-tune a VLM on safety CoT data (MIRage; TRL SFTTrainer + PEFT). `mis train merge --help` folds a "
    "LoRA adapter into its base. See docs/train.md."
)


@contextlib.contextmanager
def training_progress(description: str) -> Iterator[Callable[[TrainProgress], None]]:
    """A progress bar (step/total, loss, elapsed, ETA) on stderr, beside the log lines; yields the hook."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
    ) as progress:
        tasks: list[TaskID] = []  # added at the first step event, so elapsed/ETA count training only

        def on_progress(event: TrainProgress) -> None:
            loss = f"loss {event.loss:.3f}" if event.loss is not None else ""
            if not tasks:
                tasks.append(progress.add_task(description, total=event.total or None, loss=loss))
            progress.update(tasks[0], completed=event.step, total=event.total or None, loss=loss)

        yield on_progress


@train_app.command("merge")
def merge_cmd(
    adapter_dir: Annotated[Path, typer.Argument(help="A PEFT adapter folder (OUT/adapter, a checkpoint).")],
    out: Annotated[Path, typer.Option("--out", help="Empty folder for the merged model.")],
    base: Annotated[
        str | None, typer.Option("--base", help="Base model (default: the adapter's recorded base).")
    ] = None,
) -> None:
    """Fold a LoRA adapter into its base model (loadable by transformers and vLLM)."""
    from mis.train import merge_adapter

    result = merge_adapter(adapter_dir, out, base=base)
    console.print(f"merged model: {result}", highlight=False)
