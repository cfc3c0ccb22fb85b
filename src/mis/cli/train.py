"""`mis train` (fine-tune a VLM with TRL) and `mis train merge` (fold a LoRA adapter into its base).

Thin: options resolve into `mis.train.TrainConfig` (recipe + overrides) and `mis.train.train` runs.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mis.cli._app import app, console, err_console, fail

if TYPE_CHECKING:
    from mis.train import TrainProgress

train_app = typer.Typer(
    name="train",
    help="MIRage fine-tuning of any transformers VLM (TRL SFTTrainer + PEFT). See docs/train.md.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(train_app, name="train")


def _o(*names: str, help: str) -> typer.models.OptionInfo:  # noqa: A002 - typer's keyword
    return typer.Option(*names, help=help, show_default=False)


Str = str | None
Int = int | None
Float = float | None
Flag = bool | None


@train_app.callback(invoke_without_command=True)
def train_cmd(  # noqa: PLR0913 - one option per TrainConfig field
    ctx: typer.Context,
    model: Annotated[
        Str, _o("--model", help="Local path or hub id of an AutoModelForImageTextToText.")
    ] = None,
    data: Annotated[
        Str, _o("--data", help="Training data with target text (MIS train, export, build).")
    ] = None,
    out: Annotated[Path | None, _o("--out", help="Output folder (weights + processor + README.md).")] = None,
    recipe: Annotated[Str, _o("--recipe", help="Packaged recipe (see --list-recipes) or YAML path.")] = None,
    splits: Annotated[
        list[str] | None, _o("--split", help="Only these splits of --data (repeatable).")
    ] = None,
    general_data: Annotated[Str, _o("--general-data", help="General instruction data mixed in.")] = None,
    general_samples: Annotated[
        Int, _o("--general-samples", help="Exactly N general samples mixed in (default 500, the paper's).")
    ] = None,
    general_ratio: Annotated[
        Float, _o("--general-ratio", help="Instead: the general share of the mix (e.g. 0.111).")
    ] = None,
    baseline: Annotated[
        Str, _o("--baseline", help="Paper baseline this run trains (recorded; baseline recipes set it).")
    ] = None,
    epochs: Annotated[Float, _o("--epochs", help="Epochs.")] = None,
    lr: Annotated[Float, _o("--lr", help="Peak learning rate.")] = None,
    warmup_ratio: Annotated[Float, _o("--warmup-ratio", help="Warm-up share of all steps.")] = None,
    batch_size: Annotated[Int, _o("--batch-size", help="Per-device batch size.")] = None,
    grad_accum: Annotated[Int, _o("--grad-accum", help="Gradient accumulation steps.")] = None,
    max_length: Annotated[Int, _o("--max-length", help="Max tokens per sample.")] = None,
    max_steps: Annotated[Int, _o("--max-steps", help="Stop after N optimizer steps.")] = None,
    seed: Annotated[Int, _o("--seed", help="Seed (data order, mixing, LoRA init).")] = None,
    lora: Annotated[Flag, _o("--lora/--no-lora", help="LoRA on the LM instead of full fine-tuning.")] = None,
    qlora: Annotated[
        Flag, _o("--qlora/--no-qlora", help="LoRA on a 4-bit base (CUDA + bitsandbytes).")
    ] = None,
    lora_r: Annotated[Int, _o("--lora-r", help="LoRA rank.")] = None,
    lora_alpha: Annotated[Int, _o("--lora-alpha", help="LoRA alpha.")] = None,
    freeze_vision: Annotated[
        Flag, _o("--freeze-vision/--no-freeze-vision", help="Freeze the vision encoder (default on).")
    ] = None,
    bf16: Annotated[Flag, _o("--bf16/--no-bf16", help="bf16 (default: on with a bf16 GPU).")] = None,
    gradient_checkpointing: Annotated[
        Flag, _o("--gradient-checkpointing/--no-gradient-checkpointing", help="Default on.")
    ] = None,
    fused_lm_head: Annotated[
        Flag, _o("--fused-lm-head/--no-fused-lm-head",
                 help="TRL's tiled LM head (default on; off in tiny-cpu: faster on tiny vocabularies).")
    ] = None,
    attn_implementation: Annotated[
        Str, _o("--attn-implementation", help="sdpa, flash_attention_2 ...")
    ] = None,
    resume: Annotated[
        Flag, _o("--resume/--no-resume", help="Resume from the last checkpoint in --out.")
    ] = None,
    save_steps: Annotated[Int, _o("--save-steps", help="Checkpoint every N steps.")] = None,
    logging_steps: Annotated[Int, _o("--logging-steps", help="Log every N steps.")] = None,
    report_to: Annotated[Str, _o("--report-to", help="none, tensorboard, wandb ...")] = None,
    validate: Annotated[
        Flag, _o("--validate/--no-validate", help="Build every sample once before training (default on).")
    ] = None,
    accelerate: Annotated[
        Str, _o("--accelerate", help="Run under accelerate launch: zero2, zero3, fsdp, ddp, cpu or a YAML.")
    ] = None,
    num_processes: Annotated[Int, _o("--num-processes", help="Processes (GPUs) for --accelerate.")] = None,
    print_launch: Annotated[
        bool, _o("--print-launch", help="Print the accelerate command; don't run.")
    ] = False,
    list_recipes: Annotated[bool, _o("--list-recipes", help="List recipes and accelerate configs.")] = False,
) -> None:
    """Fine-tune a VLM on safety CoT data (MIRage). `mis train merge --help` merges LoRA adapters."""
    if ctx.invoked_subcommand is not None:
        return
    from mis.train import (
        ConfigError,
        TrainDataError,
        available_accelerate_configs,
        available_recipes,
        resolve_config,
        train,
    )
    from mis.train._launch import LAUNCHED_ENV, launch

    if list_recipes:
        console.print("recipes: " + ", ".join(available_recipes()), highlight=False)
        console.print("accelerate configs: " + ", ".join(available_accelerate_configs()), highlight=False)
        return
    overrides = {k: v for k, v in locals().items() if k in _FIELDS}
    overrides.update(out=str(out) if out else None, splits=splits or None)
    try:
        config = resolve_config(recipe, **overrides)
        if config.accelerate and not os.environ.get(LAUNCHED_ENV):
            cmd, code = launch(config, dry_run=print_launch)
            console.print(shlex.join(cmd), highlight=False, soft_wrap=True)
            if code:
                raise fail(f"accelerate launch exited with status {code}", code)
            return
        with training_progress("training") as on_progress:
            result = train(config, on_progress=on_progress)
    except (ConfigError, TrainDataError) as exc:
        raise fail(str(exc)) from None
    console.print(f"trained model: {result}", highlight=False)


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

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                  TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TextColumn("ETA"),
                  TimeRemainingColumn(), console=err_console) as progress:
        tasks: list[TaskID] = []  # added at the first step event, so elapsed/ETA count training only

        def on_progress(event: TrainProgress) -> None:
            loss = f"loss {event.loss:.3f}" if event.loss is not None else ""
            if not tasks:
                tasks.append(progress.add_task(description, total=event.total or None, loss=loss))
            progress.update(tasks[0], completed=event.step, total=event.total or None, loss=loss)

        yield on_progress


_FIELDS = {
    "model",
    "data",
    "general_data",
    "general_samples",
    "general_ratio",
    "baseline",
    "epochs",
    "lr",
    "warmup_ratio",
    "batch_size",
    "grad_accum",
    "max_length",
    "max_steps",
    "seed",
    "lora",
    "qlora",
    "lora_r",
    "lora_alpha",
    "freeze_vision",
    "bf16",
    "gradient_checkpointing",
    "fused_lm_head",
    "attn_implementation",
    "resume",
    "save_steps",
    "logging_steps",
    "report_to",
    "validate",
    "accelerate",
    "num_processes",
}


@train_app.command("merge")
def merge_cmd(
    adapter_dir: Annotated[Path, typer.Argument(help="A PEFT adapter folder (OUT/adapter, a checkpoint).")],
    out: Annotated[Path, typer.Option("--out", help="Empty folder for the merged model.")],
    base: Annotated[
        Str, typer.Option("--base", help="Base model (default: the adapter's recorded base).")
    ] = None,
) -> None:
    """Fold a LoRA adapter into its base model (loadable by transformers and vLLM)."""
    from mis.train import ConfigError, merge_adapter

    try:
        result = merge_adapter(adapter_dir, out, base=base)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    console.print(f"merged model: {result}", highlight=False)
