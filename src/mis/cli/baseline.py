"""`mis data make-baseline`: the paper's baseline training sets (MIS layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mis.cli._app import console, fail
from mis.cli.data import data_app


@data_app.command("make-baseline")
def make_baseline_cmd(
    source: Annotated[
        str, typer.Argument(help="Labelled dataset (MIS train, an export, build output); for vlguard-p: "
                                 "VLGuard's folder (train.json + the unzipped train.zip).")
    ],
    kind: Annotated[
        str, typer.Option("--kind", help="text-only | sorry-prefix | vlguard-p | black-image | refusal")
    ],
    out: Annotated[Path, typer.Option("--out", help="Empty folder for the baseline set (MIS layout).")],
    splits: Annotated[
        list[str] | None, typer.Option("--split", help="Only these splits (repeatable).")
    ] = None,
    rewrite_model: Annotated[
        str | None,
        typer.Option("--rewrite-model", help="Inspect model that rewrites labels (sorry-prefix) or recovers "
                                             "original questions (text-only); 'offline' for a stand-in."),
    ] = None,
    rewrite_base_url: Annotated[
        str | None, typer.Option("--rewrite-base-url", help="OpenAI-compatible server for --rewrite-model.")
    ] = None,
    template: Annotated[
        Path | None, typer.Option("--template", help="Your refusal lines (kind refusal).")
    ] = None,
) -> None:
    """Write a baseline variant of SOURCE that `mis train --data OUT` trains on (see docs/train.md)."""
    from mis.data import load
    from mis.errors import UsageError
    from mis.train.baselines import KINDS, make_baseline

    if kind not in KINDS:
        raise UsageError(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    try:  # mis errors (usage 2, data 3, a rewrite run stopped 4) reach the app's handler
        result = make_baseline(source, kind, out, splits=splits or None, template=template,
                               rewrite_model=rewrite_model, rewrite_base_url=rewrite_base_url)
    except OSError as exc:
        raise fail(str(exc)) from None
    console.print(f"{kind} baseline: {len(load(result))} samples -> {result}", highlight=False)
