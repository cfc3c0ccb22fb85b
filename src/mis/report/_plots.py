"""Comparison charts for `mis report` (matplotlib, Agg backend, imported inside the functions).

- ``headline.png``: every model's ASR on each harmful split and its over-refusal on each control, one
  colour per split (the same colours in every chart and legend);
- ``categories_<split>.png`` (and ``sub_categories_<split>.png`` on request): ASR per category, one bar
  per model, one colour per model;
- ``safety_vs_helpfulness.png``: ASR against over-refusal, and against the general score when a run has
  one.

Bars are horizontal so that long model and category names stay readable on a phone; in each group
only the bars that exist take a slot, centred on the label; every bar carries its value, so a model at
0 is still visible (a tick marks zero-length bars). Each function returns what it drew, for tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any

from mis.data._taxonomy import CATEGORIES, SUB_CATEGORIES
from mis.report._load import RunResult
from mis.report._tables import CONTROL_ORDER, HARMFUL_ORDER, Leaderboard, Row

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Okabe-Ito colours (colour-blind safe), one per split, used in every chart.
SPLIT_COLOURS: dict[str, str] = {"easy": "#56B4E9", "hard": "#D55E00", "real": "#009E73",
                                 "benign": "#CC79A7", "white": "#7F7F7F"}
_MORE_SPLIT_COLOURS = ("#E69F00", "#0072B2", "#F0E442", "#000000")
_DPI = 100
_WIDTH_IN = 6.0  # 600 px wide; shown at 390 px on a phone, 11 pt text stays ~10 px tall
_FONT = 11


@dataclass
class Chart:
    """One written chart: file, caption and the numbers drawn (label -> series -> value)."""

    name: str
    path: Path
    caption: str
    data: dict[str, dict[str, float]] = field(default_factory=dict)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": _FONT, "axes.titlesize": _FONT + 1, "legend.fontsize": _FONT - 1,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def split_colour(split: str, known: Sequence[str] = ()) -> str:
    """The colour of a split: fixed for easy/hard/real/benign/white, then by position."""
    if split in SPLIT_COLOURS:
        return SPLIT_COLOURS[split]
    others = [s for s in known if s not in SPLIT_COLOURS]
    i = others.index(split) if split in others else len(others)
    return _MORE_SPLIT_COLOURS[i % len(_MORE_SPLIT_COLOURS)]


def model_colours(labels: Sequence[str]) -> dict[str, str]:
    """One colour per model label, in table order (tab10, then tab20's light shades)."""
    plt = _pyplot()
    palette = [plt.get_cmap("tab10")(i) for i in range(10)] + [plt.get_cmap("tab20")(2 * i + 1)
                                                               for i in range(10)]
    from matplotlib.colors import to_hex

    return {label: to_hex(palette[i % len(palette)]) for i, label in enumerate(labels)}


def _grouped_barh(ax: Axes, groups: Sequence[str], series: Sequence[tuple[str, Mapping[str, float], str]],
                  hatched: frozenset[str] = frozenset(), xmax: float = 100.0) -> None:
    """Horizontal bars: per group, the series that have a value, centred on the group's label.

    ``series``: (name, group -> value, colour); groups in ``hatched`` (published rows) are hatched.
    Every bar is labelled with its value; a zero-length bar gets a tick at 0.
    """
    most = max((sum(1 for _, v, _ in series if v.get(g) is not None) for g in groups), default=1)
    bar_h = 0.8 / max(1, most)
    for gi, group in enumerate(groups):
        present = [(values[group], colour) for _, values, colour in series if values.get(group) is not None]
        hatch = "///" if group in hatched else None
        for j, (value, colour) in enumerate(present):
            y = gi + (j - (len(present) - 1) / 2) * bar_h
            ax.barh(y, value, height=bar_h * 0.9, color=colour, hatch=hatch,
                    edgecolor="white" if hatch else colour, linewidth=0.5)
            if value == 0:
                ax.plot([0, 0], [y - bar_h * 0.45, y + bar_h * 0.45], color=colour, linewidth=5,
                        solid_capstyle="butt", clip_on=False)
            ax.text(value + xmax * 0.01, y, f"{value:.1f}", va="center", ha="left",
                    fontsize=_FONT - 2 if bar_h < 0.2 else _FONT - 1)
    ax.set_yticks(range(len(groups)), [_wrap(g, 26) for g in groups])
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.set_xlim(0, xmax * 1.12)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _wrap(label: str, width: int) -> str:
    words, lines, line = label.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join([*lines, line])


def _legend(fig: Figure, entries: Sequence[tuple[str, str, bool]], title: str) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="white" if h else c, hatch="///" if h else None, label=name)
               for name, c, h in entries]
    fig.legend(handles=handles, title=title, loc="lower center", bbox_to_anchor=(0.5, 1.0),
               ncol=len(handles) if len(handles) <= 5 else 3, frameon=False)


def headline_chart(lb: Leaderboard, path: Path) -> Chart | None:
    """ASR per harmful split and over-refusal per control, per model (rows in leaderboard order)."""
    harmful = [c.group for c in lb.columns if c.family == "mis_rate" and c.key.endswith("_asr")]
    controls = [c.group for c in lb.columns if c.family == "control"]
    if not harmful and not controls:
        return None
    labels = [r.label for r in lb.rows if any(r.values.get(f"{g}_asr") is not None for g in harmful)
              or any(r.values.get(f"{g}_over_refusal") is not None for g in controls)]
    rows = [r for r in lb.rows if r.label in labels]
    panels = [(harmful, "_asr", "ASR on the harmful splits (%; lower is safer)"),
              (controls, "_over_refusal", "over-refusal on the controls (%; lower is better)")]
    panels = [p for p in panels if p[0]]
    plt = _pyplot()
    def panel_rows(splits: list[str], suffix: str) -> int:
        return sum(1 for r in rows if any(r.values.get(f"{s}{suffix}") is not None for s in splits))

    heights = [max(1.6, 0.3 * panel_rows(p[0], p[1]) * max(1, len(p[0])) ** 0.7 + 0.8) for p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(_WIDTH_IN, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    data: dict[str, dict[str, float]] = {}
    known = harmful + controls
    names = {r.label: r.label + (" †" if r.published else "") for r in rows}
    hatched = frozenset(names[r.label] for r in rows if r.published)
    for ax, (splits, suffix, title) in zip(axes[:, 0], panels, strict=True):
        mine = [r for r in rows if any(r.values.get(f"{s}{suffix}") is not None for s in splits)]
        series = []
        for split in splits:
            values = {names[r.label]: float(r.values[f"{split}{suffix}"]) for r in mine
                      if r.values.get(f"{split}{suffix}") is not None}
            series.append((split, values, split_colour(split, known)))
            for r in mine:
                if r.values.get(f"{split}{suffix}") is not None:
                    data.setdefault(r.label, {})[f"{split}{suffix}"] = float(r.values[f"{split}{suffix}"])
        _grouped_barh(ax, [names[r.label] for r in mine], series, hatched)
        ax.set_title(title, loc="left")
    _legend(fig, [(s, split_colour(s, known), False) for s in known], "split")
    fig.tight_layout()
    note = " († = the authors' published numbers)" if any(r.published for r in rows) else ""
    return Chart("headline", _save(fig, path), f"ASR per harmful split and over-refusal per control{note}",
                 data)


def category_chart(results: Sequence[RunResult], split: str, rows: Sequence[Row], colours: Mapping[str, str],
                   path: Path, *, sub: bool = False) -> Chart | None:
    """ASR per (sub-)category on one MIS split, one bar per model (only buckets with samples)."""
    by_label: dict[str, dict[str, float]] = {}
    for row in rows:
        for r in results:
            if r.model == row.model and r.judge_id == row.judge and r.has_mis_rates and r.split == split \
                    and r.benchmark == "mis" and not r.published:
                buckets = r.by_sub_category if sub else r.by_category
                by_label[row.label] = {name: b["asr"] for name, b in buckets.items()
                                       if b.get("n", 1) > 0 and "asr" in b}
    order = SUB_CATEGORIES if sub else CATEGORIES
    seen = {g for v in by_label.values() for g in v}
    groups = [g for g in order if g in seen] + sorted(seen - set(order))
    if not groups:
        return None
    plt = _pyplot()
    n_bars = sum(len(v) for v in by_label.values())
    fig, ax = plt.subplots(figsize=(_WIDTH_IN, max(2.5, 0.22 * n_bars + 0.5 * len(groups) + 1.0)))
    _grouped_barh(ax, groups, [(label, values, colours[label]) for label, values in by_label.items()])
    what = "sub-category" if sub else "category"
    ax.set_title(f"ASR by {what}, {split} split (%; lower is safer)", loc="left")
    _legend(fig, [(label, colours[label], False) for label in by_label], "model")
    fig.tight_layout()
    name = f"{'sub_categories' if sub else 'categories'}_{split}"
    return Chart(name, _save(fig, path), f"ASR by {what} on the {split} split, all models", by_label)


def scatter_chart(lb: Leaderboard, colours: Mapping[str, str], path: Path) -> Chart | None:
    """ASR (one split) against over-refusal, and against general ability when present; one point per model."""
    asr_key = _asr_key(lb)
    if asr_key is None:
        return None
    over = [c.key for c in lb.columns if c.family == "control"
            or (c.family == "benchmark" and c.kind == "over_refusal")]
    general = [c.key for c in lb.columns if c.family == "benchmark" and c.kind == "general"]
    panels = []
    axes_spec = ((over, "over-refusal", "lower-left"), (general, "general score", "lower-right"))
    for keys, xlabel, better in axes_spec:
        points = {}
        for r in lb.rows:
            xs = [float(r.values[k]) for k in keys if r.values.get(k) is not None]
            if xs and r.values.get(asr_key) is not None:
                points[r.label] = (round(fmean(xs), 2), float(r.values[asr_key]), r.published)
        if points:
            names = ", ".join(lb.column(k).header for k in keys)
            panels.append((points, f"{xlabel} (%; mean of {names})", better))
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(_WIDTH_IN, 4.6 * len(panels)), squeeze=False)
    data: dict[str, dict[str, float]] = {}
    for ax, (points, xlabel, better) in zip(axes[:, 0], panels, strict=True):
        placed: list[tuple[float, float]] = []
        for label, (x, y, published) in sorted(points.items(), key=lambda kv: -kv[1][1]):
            colour = colours.get(label, "#333333")
            ax.scatter([x], [y], s=70, zorder=3, facecolors="none" if published else colour,
                       edgecolors=colour, linewidths=2)
            ty = y
            while any(abs(px - x) < 30 and abs(py - ty) < 4.5 for px, py in placed):
                ty -= 4.5  # the next free line below, so close points keep readable labels
            placed.append((x, ty))
            ax.annotate(label + (" †" if published else ""), (x, y), xytext=(x + 1.5, ty + 1.5),
                        textcoords="data", fontsize=_FONT - 2,
                        arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.6} if ty != y else None)
            data.setdefault(label, {})[xlabel.split(" (")[0]] = x
            data[label][asr_key] = y
        ax.set_xlim(-3, 103)
        ax.set_ylim(-3, 103)
        ax.set_xlabel(_wrap(xlabel, 60))
        ax.set_ylabel(f"{lb.column(asr_key).header} (%; lower is safer)")
        ax.set_title(f"safety vs {'over-refusal' if 'over' in xlabel else 'helpfulness'} "
                     f"({better} is better)", loc="left")
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)
    fig.tight_layout()
    return Chart("safety_vs_helpfulness", _save(fig, path),
                 "ASR against over-refusal (and general ability); hollow points: published", data)


def _asr_key(lb: Leaderboard) -> str | None:
    """The ASR column the scatter uses: the sort column if it is an ASR, else hard, easy, real, any."""
    asr = [c.key for c in lb.columns if c.family == "mis_rate" and c.key.endswith("_asr")]
    if lb.sort_key in asr:
        return lb.sort_key
    for split in (*HARMFUL_ORDER, *CONTROL_ORDER):
        if f"{split}_asr" in asr:
            return f"{split}_asr"
    return asr[0] if asr else None
