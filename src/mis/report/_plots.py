"""Charts for `mis report`: per-category safe rate per model, and harmlessness vs helpfulness.

matplotlib is imported inside the functions with the Agg backend, so `import mis` stays light and
no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mis.data._taxonomy import CATEGORIES
from mis.report._load import RunResult
from mis.report._tables import ModelScores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_SPLIT_ORDER = ("easy", "hard", "real", "all")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _wrap(label: str, width: int = 12) -> str:
    words, lines, line = label.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join([*lines, line])


def safe_rate_chart(model: str, results: Sequence[RunResult], path: Path) -> Path | None:
    """Bar chart of per-category safe rate (100 - ASR), one bar per split in each category group.

    Categories with no samples in a split get no bar (an empty bucket is not 100% safe). Returns
    None when no result of the model has per-category numbers.
    """
    rows = [r for r in results if r.is_mis and r.model == model and r.by_category]
    split_rows = [r for r in rows if r.split not in ("", "all")]
    rows = split_rows or rows
    if not rows:
        return None
    seen = [c for r in rows for c, b in r.by_category.items() if b.get("n", 1) > 0 and "asr" in b]
    categories = [c for c in CATEGORIES if c in seen] + sorted({c for c in seen if c not in CATEGORIES})
    if not categories:
        return None
    rows = sorted(rows, key=lambda r: (_SPLIT_ORDER.index(r.split) if r.split in _SPLIT_ORDER else 9,
                                       r.split, r.judge))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(categories) + 2), 4.2))
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        xs, heights = [], []
        for j, cat in enumerate(categories):
            bucket = r.by_category.get(cat)
            if bucket and bucket.get("n", 1) > 0 and "asr" in bucket:
                xs.append(j - 0.4 + width * (i + 0.5))
                heights.append(100.0 - bucket["asr"])
        label = r.split or r.task
        if sum(1 for o in rows if (o.split or o.task) == label) > 1:
            label = f"{label} ({r.judge or r.run_dir.name})"
        bars = ax.bar(xs, heights, width=width * 0.95, label=f"{label} (n={r.n})" if r.n else label)
        if len(rows) * len(categories) <= 24:
            ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(range(len(categories)), [_wrap(c) for c in categories], fontsize=8)
    ax.set_ylim(0, 109)
    ax.set_ylabel("safe rate = 100 - ASR (%)")
    judges = sorted({r.judge for r in rows if r.judge})
    ax.set_title(f"{model}\nper-category safe rate on MIS" + (f" (judge: {', '.join(judges)})" if judges
                                                              else ""), fontsize=9)
    ax.legend(title="split", fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _save(fig, path)


def scatter_chart(scores: Sequence[ModelScores], path: Path) -> Path | None:
    """Harmlessness (mean safety score) against helpfulness (mean general score), one point per model.

    Returns None when no model has both.
    """
    points = [(s.model, s.helpfulness, s.harmlessness) for s in scores
              if s.helpfulness is not None and s.harmlessness is not None]
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    for model, x, y in points:
        ax.scatter([x], [y], s=40, zorder=3)
        ax.annotate(_short(model), (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    ax.set_xlim(max(0.0, min(xs) - 10), min(100.0, max(xs) + 10))
    ax.set_ylim(max(0.0, min(ys) - 10), min(105.0, max(ys) + 10))
    ax.set_xlabel("helpfulness: mean general-ability score (%)")
    ax.set_ylabel("harmlessness: mean safety score (%)")
    ax.set_title("Harmlessness vs helpfulness (up and right is better)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    return _save(fig, path)


def _short(model: str, limit: int = 40) -> str:
    """A readable point label: provider prefix and long paths trimmed from the left."""
    label = model.rstrip("/")
    return label if len(label) <= limit else "…" + label[-(limit - 1):]
