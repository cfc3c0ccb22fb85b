"""The paper's baseline training sets, made from any labelled dataset (paper App. B.2).

Kinds:
  - ``refusal``: every target replaced by a refusal answer (VLGuard-P style), from a template file;
  - ``sorry-prefix``: "I'm sorry." prepended to every target (MIRage with sorry-prefixed labels);
  - ``text-only``: images dropped (MIRage text-only); `mis train` trains on 0-image samples;
  - ``black-image``: every sample's images replaced by one all-black image (textual SFT baseline).

Output is the MIS layout (`mis.data.write_mis_layout`), so `mis train --data OUT` reads it.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mis.data import Sample

__all__ = ["KINDS", "BaselineKind", "make_baseline", "read_template_lines"]

BaselineKind = Literal["refusal", "sorry-prefix", "text-only", "black-image"]
KINDS: tuple[str, ...] = ("refusal", "sorry-prefix", "text-only", "black-image")


def read_template_lines(path: str | Path | None, default: str) -> list[str]:
    """Non-empty, non-comment lines of a template file (a packaged one when ``path`` is None)."""
    if path is None:
        text = (resources.files("mis.train") / "templates" / default).read_text(encoding="utf-8")
        where = f"mis/train/templates/{default}"
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"template {where}: no lines (comments start with '#')")
    return lines


def _pick(lines: list[str], uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return lines[int.from_bytes(digest[:4], "big") % len(lines)]


def _black_png(folder: Path, size: int) -> Path:
    from PIL import Image

    path = folder / "black.png"
    Image.new("RGB", (size, size), (0, 0, 0)).save(path)
    return path


def convert(sample: Sample, kind: str, *, refusals: list[str], prefix: str, black: Path | None) -> Sample:
    """One labelled sample -> its baseline variant (metadata records the kind)."""
    if not (sample.target or "").strip():
        raise ValueError(f"sample {sample.uid}: field 'target' is empty; baselines need labelled data")
    meta = {**sample.metadata, "baseline": kind}
    update: dict[str, Any]
    if kind == "refusal":
        update = {"target": _pick(refusals, sample.uid)}
    elif kind == "sorry-prefix":
        update = {"target": f"{prefix} {sample.target}"}
    elif kind == "text-only":
        update = {"images": []}
    elif kind == "black-image":
        assert black is not None
        update = {"images": [str(black)]}
    else:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    return sample.model_copy(update={**update, "metadata": meta})


def make_baseline(
    source: str | Path,
    kind: str,
    out: str | Path,
    *,
    splits: Sequence[str] | None = None,
    template: str | Path | None = None,
    black_size: int = 448,
) -> Path:
    """Write the ``kind`` variant of every sample of ``source`` to ``out`` (MIS layout); return ``out``.

    ``template`` replaces the packaged refusal lines (``refusal``) or prefix (``sorry-prefix``).
    """
    from mis.data import load, write_mis_layout

    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out: {out} is not empty; choose an empty folder")
    samples = list(load(source, splits=list(splits) if splits else None).samples)
    if not samples:
        raise ValueError(f"{source}: no samples")
    refusals = read_template_lines(template if kind == "refusal" else None, "refusal.txt")
    prefix = read_template_lines(template if kind == "sorry-prefix" else None, "sorry_prefix.txt")[0]
    with tempfile.TemporaryDirectory(prefix="mis-baseline-") as tmp:
        black = _black_png(Path(tmp), black_size) if kind == "black-image" else None
        variants = [convert(s, kind, refusals=refusals, prefix=prefix, black=black) for s in samples]
        return write_mis_layout(variants, out)
