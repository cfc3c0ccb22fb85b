"""`mis data make-baseline`: the paper's baseline training sets from a labelled dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mis.cli._app import console, fail
from mis.cli.data import data_app


@data_app.command("make-baseline")
def make_baseline_cmd(
    source: Annotated[str, typer.Argument(help="Labelled dataset (MIS train, an export, build output).")],
    kind: Annotated[str, typer.Option("--kind", help="refusal | sorry-prefix | text-only | black-image")],
    out: Annotated[Path, typer.Option("--out", help="Empty folder for the baseline set (MIS layout).")],
    splits: Annotated[
        list[str] | None, typer.Option("--split", help="Only these splits (repeatable).")
    ] = None,
    template: Annotated[
        Path | None, typer.Option("--template", help="Your refusal lines (refusal) or prefix (sorry-prefix).")
    ] = None,
) -> None:
    """Write a baseline variant of SOURCE that `mis train --data OUT` trains on."""
    from mis.data import DataError, load
    from mis.train.baselines import KINDS, make_baseline

    if kind not in KINDS:
        raise fail(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    try:
        result = make_baseline(source, kind, out, splits=splits or None, template=template)
    except (DataError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    console.print(f"{kind} baseline: {len(load(result))} samples -> {result}", highlight=False)
