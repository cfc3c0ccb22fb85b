"""FigStep / SafeBench (ThuCCSLab/FigStep): a typographic image of the request + a benign text prompt.

Reads ``data/question/safebench.csv`` (or ``SafeBench-Tiny.csv``) and pairs each row with
``data/images/<subset>/query_ForbidQI_<category_id>_<task_id>_6.png``. Absent images are
regenerated from the CSV exactly as FigStep draws them: a 760x760 white canvas, the ``instruction``
wrapped at 15 characters followed by an empty numbered list ``1. / 2. / 3.``, FreeMonoBold 80 px.
The text prompt is the paper's fixed incitement (``figstep_prompt.txt``); the judge's user turn is
the row's ``question`` (recorded as ``judge_user_text``).
"""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mis.data._schema import Sample
from mis.errors import DataError
from mis.eval.benchmarks._common import (
    ImageRelease,
    cache_root,
    fail,
    find_file,
    local_path,
    read_csv,
    register_release,
    resolve_source,
    template,
)
from mis.eval.benchmarks._guarded import GuardOptions, guarded

COLUMNS = ("dataset", "category_id", "task_id", "category_name", "question", "instruction")
SUBSETS = {"SafeBench": "safebench.csv", "SafeBench-Tiny": "SafeBench-Tiny.csv"}
#: Fonts tried in order for regenerated images (FigStep uses FreeMonoBold).
FONT_CANDIDATES = (
    "FreeMonoBold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMonoBold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
)


def figstep_prompt() -> str:
    """The fixed benign text prompt sent with every FigStep image."""
    return template("figstep_prompt.txt").strip()


def typography_text(instruction: str, steps: int = 3) -> str:
    """FigStep's image text: the statement wrapped at 15 characters, then ``1. 2. 3.`` left empty."""
    text = textwrap.fill(instruction.removesuffix("\n"), width=15)
    for k in range(1, steps + 1):
        text += f"\n{k}. "
    return text


def _font(font: str | None, size: int) -> tuple[Any, str]:
    from PIL import ImageFont

    for candidate in ([font] if font else []) + list(FONT_CANDIDATES):
        try:
            return ImageFont.truetype(candidate, size=size), candidate
        except OSError:
            continue
    if font:
        raise FileNotFoundError(f"font {font!r} not found")
    return ImageFont.load_default(size=size), "pil-default"


def render_typography(instruction: str, out: Path, *, font: str | None = None) -> str:
    """Draw the FigStep image for ``instruction`` to ``out`` (PNG); returns the font used."""
    from PIL import Image, ImageDraw

    face, used = _font(font, 80)
    image = Image.new("RGB", (760, 760), "#FFFFFF")
    ImageDraw.Draw(image).text((20, 10), typography_text(instruction), font=face, spacing=11, fill="#000000")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    image.save(tmp)
    tmp.replace(out)
    return used


def image_name(row: dict[str, str]) -> str:
    """``query_<dataset>_<category_id>_<task_id>_6.png`` (6 = FigStep's query type)."""
    return f"query_{row['dataset']}_{row['category_id']}_{row['task_id']}_6.png"


def load_figstep(
    source: str | Path,
    *,
    subset: str = "SafeBench",
    regenerate: str = "missing",
    font: str | None = None,
    image_dir: Path | None = None,
) -> list[Sample]:
    """SafeBench rows as samples (split ``figstep``, id ``<category_id>_<task_id>``).

    Args:
        source: the FigStep repository folder (a git clone), its ``data/`` folder, or the CSV file; relative
            paths resolve against the working directory (:func:`resolve_source`).
        subset: ``SafeBench`` (500) or ``SafeBench-Tiny`` (50; same ids, never mix the two).
        regenerate: ``missing`` draws absent images, ``always`` draws every image, ``never`` keeps
            the published paths (absent ones are then reported by the task).
        font: a TrueType font for regenerated images (default FreeMonoBold, else DejaVu Sans Mono Bold).
        image_dir: where regenerated images go (default: the mis cache).

    """
    if subset not in SUBSETS:
        raise ValueError(f"subset={subset!r}: expected one of {sorted(SUBSETS)}")
    if regenerate not in ("missing", "always", "never"):
        raise ValueError(f"regenerate={regenerate!r}: expected missing, always or never")
    root = resolve_source(source)
    name = SUBSETS[subset]
    csv_path = find_file(
        root, [f"data/question/{name}", f"question/{name}", f"questions/{name}", name], f"FigStep {name}"
    )
    published = csv_path.parent.parent / "images" / subset  # the repo's data/images/<subset>
    regen_dir = local_path(image_dir) if image_dir else cache_root() / "figstep" / subset
    samples: list[Sample] = []
    for line, row in read_csv(csv_path, COLUMNS):
        rid = f"line {line}"
        for key in ("category_id", "task_id"):
            if not str(row[key]).strip().isdigit():
                raise fail(csv_path, rid, key, f"expected an integer, got {row[key]!r}")
        if not row["instruction"].strip():
            raise fail(csv_path, rid, "instruction", "empty")
        image = image_name(row)  # relative to the sample root, the published image folder
        font_used = None
        if regenerate == "always" or (regenerate == "missing" and not (published / image).is_file()):
            key = hashlib.sha256(f"{row['instruction']}\x00{font}".encode()).hexdigest()[:10]
            drawn = regen_dir / image_name(row).replace("_6.png", f"_6_{key}.png")
            font_used = font or "default"
            if regenerate == "always" or not drawn.is_file():
                font_used = render_typography(row["instruction"], drawn, font=font)
            image = str(drawn)
        samples.append(
            Sample(
                id=f"{int(row['category_id'])}_{int(row['task_id'])}",
                split="figstep",
                question=figstep_prompt(),
                images=[image],
                category=row["category_name"],
                metadata={
                    "dataset": row["dataset"],
                    "category_id": int(row["category_id"]),
                    "task_id": int(row["task_id"]),
                    "category_name": row["category_name"],
                    "instruction": row["instruction"],
                    "text_only_question": row["question"],
                    "judge_user_text": row["question"],
                    "regenerated_with_font": font_used,
                },
                root=published,
            )
        )
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{csv_path}: duplicate (category_id, task_id) {dup}")
    samples.sort(key=lambda s: (s.metadata["category_id"], s.metadata["task_id"]))
    return samples


def release(options: Any = None) -> ImageRelease:
    """The FigStep images are in the git repository itself, one folder per subset."""
    subset = getattr(options, "subset", "SafeBench")
    return ImageRelease(
        f"data/images/{subset}",
        "they are in the git clone of ThuCCSLab/FigStep (absent ones are redrawn unless regenerate=never)",
    )


register_release("figstep", release)


@dataclass(frozen=True)
class FigStepOptions(GuardOptions):
    """FigStep's own options."""

    subset: str = "SafeBench"
    """SafeBench (500) or SafeBench-Tiny (50; same ids, never mix the two)."""
    regenerate: str = "missing"
    """missing: draw absent images; always: draw every image; never: keep the published paths."""


FIGSTEP = guarded(
    "figstep",
    "FigStep / SafeBench (500): typographic image + benign prompt; Llama Guard 3 ASR.",
    lambda data, o: load_figstep(data, subset=o.subset, regenerate=o.regenerate),
    FigStepOptions,
)
