"""`mis data validate|stats|export`: check, count and convert MIS data (thin: the work is in mis.data)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mis.cli._app import app, console, err_console
from mis.data._gate import DEFAULT_MAX_PIXELS
from mis.errors import DataError

data_app = typer.Typer(name="data", help="Check, count and convert MIS data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

PathArg = Annotated[str, typer.Argument(
    help="A MIS folder or file, one of our export folders, or a hub id (Tuwhy/MIS_Test).")]
CacheDir = Annotated[Path | None, typer.Option(help="Where hub downloads and extracted images go.")]
Splits = Annotated[list[str] | None, typer.Option("--split", help="Only these splits (repeatable).")]


class ExportFormat(StrEnum):
    """Formats of `mis data export`."""

    llamafactory = "llamafactory"
    swift = "swift"
    internvl = "internvl"
    hf = "hf"


def _short(file: str, source: str) -> str:
    """A problem's file relative to the folder being validated (the table stays readable)."""
    base = Path(source)
    try:
        return str(Path(file).relative_to(base if base.is_dir() else base.parent))
    except ValueError:
        return file


def _load(path: str, splits: list[str] | None, cache_dir: Path | None) -> Any:
    """Load a dataset; a DataError reaches the root group: one line, exit code 3."""
    from mis.data import load

    return load(path, splits=splits or None, cache_dir=cache_dir)


@data_app.command("validate")
def validate_cmd(
    path: PathArg,
    no_decode: Annotated[bool, typer.Option("--no-decode", help="Only check that images exist.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
    allow_outside_root: Annotated[bool, typer.Option(
        help="Accept image paths and symlinks that lead outside the dataset folder.")] = False,
    max_pixels: Annotated[int, typer.Option(min=1, help="Refuse images with more pixels (width x height), "
                                                        "checked before decoding.")] = DEFAULT_MAX_PIXELS,
    cache_dir: CacheDir = None,
) -> None:
    """Check every sample and list all problems; exit 3 when there is any (warnings do not fail)."""
    from mis.data._validate import validate_report

    report = validate_report(path, decode_images=not no_decode, cache_dir=cache_dir,
                             allow_outside_root=allow_outside_root, max_pixels=max_pixels)
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
    problems = report.problems
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in problems], indent=2))
        raise typer.Exit(DataError.exit_code if problems else 0)
    if problems:
        table = Table(title=f"{len(problems)} problem(s) in {path}", show_lines=False)
        for column in ("file", "sample", "field", "problem"):
            table.add_column(column, overflow="fold")
        for p in problems:
            table.add_row(_short(p.file, path), p.sample_id or "-", p.field or "-", p.message)
        console.print(table)
        raise typer.Exit(DataError.exit_code)
    per_split = ", ".join(f"{split} {n}" for split, n in report.samples.items())
    checked = "exist" if no_decode else "decode"
    total = sum(report.samples.values())
    console.print(f"OK: {total} samples ({per_split}), {report.images} images {checked}, "
                  f"format {report.format}", highlight=False)


@data_app.command("stats")
def stats_cmd(
    path: PathArg,
    split: Splits = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Count samples per split x category x sub-category (like the paper's Table 3)."""
    from mis.data import stats

    counts = stats(_load(path, split, cache_dir))
    if as_json:
        typer.echo(json.dumps(counts, indent=2))
        return
    splits = counts["splits"]
    table = Table(title=f"{path}: {counts['total']} samples")
    table.add_column("category / sub-category")
    for name in [*splits, "total"]:
        table.add_column(name, justify="right")
    for category in counts["categories"]:
        row = [str(category["counts"][s]) for s in splits]
        table.add_row(f"[bold]{category['category']}[/]", *row, f"[bold]{category['total']}[/]")
        for sub in category["sub_categories"]:
            table.add_row(f"  {sub['sub_category']}", *(str(sub["counts"][s]) for s in splits),
                          str(sub["total"]))
    table.add_section()
    totals = [str(counts["by_split"][s]) for s in splits]
    table.add_row("[bold]total[/]", *totals, f"[bold]{counts['total']}[/]")
    console.print(table)


@data_app.command("export")
def export_cmd(
    path: PathArg,
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Target format.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New (or empty) folder to write.")],
    split: Splits = None,
    tokenizer: Annotated[Path | None, typer.Option(
        help="Model/processor folder: tokenize each chat with its images (needs --max-length).")] = None,
    max_length: Annotated[int | None, typer.Option(
        help="Fail when a tokenized chat is longer than this.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Write into a non-empty --out folder.")] = False,
    allow_outside_root: Annotated[bool, typer.Option(
        help="Accept image paths and symlinks that lead outside the dataset folder.")] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Convert to LLaMA-Factory, ms-swift, InternVL or `datasets` format, checking every sample."""
    from mis.data import export

    dataset = _load(path, split, cache_dir)
    folder = export(dataset, fmt.value, out, tokenizer=tokenizer, max_length=max_length,
                    overwrite=overwrite, allow_outside_root=allow_outside_root)
    per_split = ", ".join(f"{s} {len(dataset.split(s))}" for s in dataset.splits)
    console.print(f"wrote {len(dataset)} samples ({per_split}) as {fmt.value} to {folder}", highlight=False)
    hint = {
        "llamafactory": f"LLaMA-Factory: dataset_dir: {folder}, dataset: mis_<split>",
        "swift": f"ms-swift: --dataset {folder}/<split>.jsonl",
        "internvl": f"InternVL: --meta_path {folder}/meta.json",
        "hf": f"datasets.load_from_disk({str(folder)!r})",
    }[fmt.value]
    console.print(f"use it with {hint}", highlight=False)
