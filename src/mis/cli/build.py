"""`mis build`: run the MIS construction pipeline, and the human review round."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mis.cli._app import app, console, fail

build_app = typer.Typer(
    help="Build MIS-style data: extract -> refine -> render -> split -> review -> label.",
    no_args_is_help=True,
)
app.add_typer(build_app, name="build")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise fail(f"{option}: expected STEP=VALUE, got {value!r}")
        out[key.strip()] = rest.strip()
    return out


@build_app.command("run")
def run(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (created; rerun the same command to resume).")
    ],
    config: Annotated[
        str | None, typer.Option("--config", help="YAML build config, or a packaged one: paper, offline.")
    ] = None,
    seeds: Annotated[
        list[Path] | None, typer.Option("--seeds", help="Seed JSONL/CSV files or folders (repeatable).")
    ] = None,
    text_model: Annotated[
        str | None, typer.Option(help="Default model for text steps (inspect model string or 'offline').")
    ] = None,
    vision_model: Annotated[str | None, typer.Option(help="Default model for vision steps.")] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="STEP=MODEL for one step (repeatable). Steps: "
            "extract, extract_image, refine, critic, text_safety, image_harm, label, "
            "label_judge.",
        ),
    ] = None,
    prompt: Annotated[
        list[str] | None,
        typer.Option(
            "--prompt",
            help="STEP=PATH: your own prompt template for a step (repeatable; steps above plus 'render').",
        ),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight per model step.")] = None,
    t2i: Annotated[
        str | None, typer.Option("--t2i", help="Text-to-image backend: diffusers, openai, offline.")
    ] = None,
    t2i_model: Annotated[
        str | None, typer.Option(help="diffusers path/hub id or images-API model name.")
    ] = None,
    t2i_steps: Annotated[int | None, typer.Option(help="Denoising steps.")] = None,
    t2i_guidance: Annotated[float | None, typer.Option(help="Guidance scale.")] = None,
    t2i_size: Annotated[int | None, typer.Option(help="Image width and height in pixels.")] = None,
    t2i_seed: Annotated[int | None, typer.Option(help="Base seed of the renders.")] = None,
    max_seeds: Annotated[int | None, typer.Option(help="Use only the first N seeds.")] = None,
    require_review: Annotated[
        bool | None,
        typer.Option("--require-review/--no-require-review", help="Stop after split until review-import."),
    ] = None,
    restart_from: Annotated[
        str | None, typer.Option(help="Redo this stage and the later ones (cache is kept).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Stop after this stage.")] = None,
) -> None:
    """Run (or resume) every stage and write the dataset in the MIS layout with a manifest."""
    from mis.build import (
        BuildConfig,
        BuildError,
        BuildEvent,
        ConfigError,
        SeedError,
        StepModel,
        load_config,
        run_build,
    )

    try:
        cfg = load_config(config) if config else BuildConfig()
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    cfg.out = str(out.resolve())
    if seeds:
        cfg.seeds = [str(s.resolve()) for s in seeds]
    if text_model:
        cfg.text_model = text_model
    if vision_model:
        cfg.vision_model = vision_model
    for step, name in _pairs(model, "--model").items():
        cfg.steps.setdefault(step, StepModel()).model = name
    cfg.prompts.update(_pairs(prompt, "--prompt"))
    if concurrency is not None:
        from mis.build import MODEL_STEPS

        for step in MODEL_STEPS:
            cfg.steps.setdefault(step, StepModel()).concurrency = concurrency
    for attr, value in (
        ("backend", t2i),
        ("model", t2i_model),
        ("steps", t2i_steps),
        ("guidance", t2i_guidance),
        ("seed", t2i_seed),
        ("width", t2i_size),
        ("height", t2i_size),
    ):
        if value is not None:
            setattr(cfg.t2i, attr, value)
    if max_seeds is not None:
        cfg.max_seeds = max_seeds
    if require_review is not None:
        cfg.require_review = require_review

    with Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_event(event: BuildEvent) -> None:
            if event.kind in ("start", "skip"):
                tasks[event.stage] = progress.add_task(
                    event.stage, total=event.total or 1, completed=event.done
                )
            elif event.kind == "advance" and event.stage in tasks:
                progress.advance(tasks[event.stage])

        try:
            result = run_build(cfg, on_event=on_event, restart_from=restart_from, until=until)
        except (ConfigError, BuildError, SeedError) as exc:
            raise fail(str(exc)) from exc

    table = Table(title=f"mis build: {result.status}")
    for col in ("stage", "in", "out", "dropped", "reasons", "errors"):
        table.add_column(col, justify="left" if col in ("stage", "reasons") else "right")
    for stage, c in result.stages.items():
        reasons = ", ".join(f"{k} {v}" for k, v in c["reasons"].items())
        table.add_row(stage, str(c["in"]), str(c["out"]), str(c["dropped"]), reasons, str(c["errors"]))
    console.print(table)
    if result.final:
        console.print(
            "dataset: "
            + ", ".join(f"{k} {v}" for k, v in result.final.items())
            + f"  ->  {result.out} (manifest: {result.manifest_path})"
        )
    if result.message:
        console.print(result.message)
    if result.status == "incomplete":
        raise typer.Exit(1)


@build_app.command("review-export")
def review_export_cmd(
    out: Annotated[Path, typer.Option("--out", help="The build folder.")],
    dest: Annotated[
        Path | None, typer.Option(help="Where to write review.csv/review.html (default OUT/human_review).")
    ] = None,
) -> None:
    """Write a CSV to fill in and a static HTML sheet with the images of every split record."""
    from mis.build import ReviewError, review_export

    try:
        csv_path, html_path = review_export(out, dest)
    except ReviewError as exc:
        raise fail(str(exc)) from exc
    console.print(f"review sheet: {html_path}\nfill the 'decision' column of: {csv_path}")


@build_app.command("review-import")
def review_import_cmd(
    csv_file: Annotated[Path, typer.Argument(help="The filled review CSV.")],
    out: Annotated[Path, typer.Option("--out", help="The build folder.")],
) -> None:
    """Record human decisions (keep, drop, train, easy, hard); the next `mis build run` applies them."""
    from mis.build import ReviewError, review_import

    try:
        counts = review_import(out, csv_file)
    except (ReviewError, OSError) as exc:
        raise fail(str(exc)) from exc
    console.print("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    console.print(f"now rerun `mis build run --out {out} ...` to apply them")
