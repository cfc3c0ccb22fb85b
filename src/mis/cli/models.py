"""`mis tiny-model`: build a tiny random-init VLM of a real architecture, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mis.cli._app import app, console, fail
from mis.models.tiny import ARCHS, TinySize, make_tiny_model, tiny_model_info, with_sizes

_DEFAULT = TinySize()
_HELP = {
    "text_hidden": "Language model hidden size",
    "text_layers": "Language model layers",
    "text_heads": "Language model attention heads",
    "text_intermediate": "Language model MLP width",
    "vision_hidden": "Vision encoder hidden size",
    "vision_layers": "Vision encoder layers",
    "vision_heads": "Vision encoder attention heads",
    "vision_intermediate": "Vision encoder MLP width (Qwen2-VL uses 4 x hidden)",
    "image_size": "Square image side in pixels",
    "patch_size": "Vision patch side in pixels",
    "merge": "Patch-grid reduction per side (Idefics3 scale_factor, Qwen spatial_merge_size)",
    "vocab_size": "Target BPE vocabulary size, special tokens included",
}


def _help(field: str) -> str:
    """Option help with the TinySize default, so the two cannot drift apart."""
    return f"{_HELP[field]} [default: {getattr(_DEFAULT, field)}]."


@app.command("tiny-model")
def tiny_model(
    out: Annotated[Path, typer.Argument(help="Folder to write the model, tokenizer and processor to.")],
    arch: Annotated[str, typer.Option(help=f"Architecture: {' | '.join(ARCHS)}.")] = "idefics3",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives identical weights.")] = 0,
    text_hidden: Annotated[int | None, typer.Option(help=_help("text_hidden"))] = None,
    text_layers: Annotated[int | None, typer.Option(help=_help("text_layers"))] = None,
    text_heads: Annotated[int | None, typer.Option(help=_help("text_heads"))] = None,
    text_intermediate: Annotated[int | None, typer.Option(help=_help("text_intermediate"))] = None,
    vision_hidden: Annotated[int | None, typer.Option(help=_help("vision_hidden"))] = None,
    vision_layers: Annotated[int | None, typer.Option(help=_help("vision_layers"))] = None,
    vision_heads: Annotated[int | None, typer.Option(help=_help("vision_heads"))] = None,
    vision_intermediate: Annotated[int | None, typer.Option(help=_help("vision_intermediate"))] = None,
    image_size: Annotated[int | None, typer.Option(help=_help("image_size"))] = None,
    patch_size: Annotated[int | None, typer.Option(help=_help("patch_size"))] = None,
    merge: Annotated[int | None, typer.Option(help=_help("merge"))] = None,
    vocab_size: Annotated[int | None, typer.Option(help=_help("vocab_size"))] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Text file (one sample per line) the tokenizer is also trained on.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Write into OUT even if it is not empty.")] = False,
) -> None:
    """Build a tiny random-init VLM (real architecture, local tokenizer, stock processor), offline."""
    if arch not in ARCHS:
        raise fail(f"--arch {arch!r} is not one of {', '.join(ARCHS)}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise fail(f"{out} is not empty; pass --overwrite to write into it, or choose another folder")
    lines: list[str] | None = None
    if corpus is not None:
        if not corpus.is_file():
            raise fail(f"--corpus {corpus}: no such file")
        lines = corpus.read_text(encoding="utf-8").splitlines()
    size = with_sizes(
        None,
        text_hidden=text_hidden,
        text_layers=text_layers,
        text_heads=text_heads,
        text_intermediate=text_intermediate,
        vision_hidden=vision_hidden,
        vision_layers=vision_layers,
        vision_heads=vision_heads,
        vision_intermediate=vision_intermediate,
        image_size=image_size,
        patch_size=patch_size,
        merge=merge,
        vocab_size=vocab_size,
    )
    try:
        size.validate(arch)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one summary table is the output; no per-shard bars
    with console.status(f"building tiny {arch} model"):
        path = make_tiny_model(out, arch, seed=seed, size=size, corpus=lines)
    info = tiny_model_info(path)
    table = Table(title=f"tiny {arch} model", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("arch", info["arch"])
    table.add_row("seed", str(info["seed"]))
    table.add_row("params", f"{info['params']:,}")
    table.add_row("vocab", str(info["vocab"]))
    table.add_row("image size", f"{info['size']['image_size']} px")
    table.add_row("image tokens per image", str(info["image_tokens_per_image"]))
    table.add_row("path", str(path))
    console.print(table)
