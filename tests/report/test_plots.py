"""Charts: what each draws, centred bars, consistent colours, legends that match, zero-height bars visible."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mis.report import build_report
from mis.report._plots import SPLIT_COLOURS, _grouped_barh, _pyplot, model_colours
from tests.report.schema import items, write_benchmark_v2, write_mis_v2

pytestmark = pytest.mark.xdist_group("report")


def _splits(spec: dict[str, list[str]]) -> dict:
    out, start = {}, 0
    for split, outcomes in spec.items():
        out[split] = items(split, outcomes, start)
        start += len(outcomes)
    return out


def test_bars_take_slots_only_when_present_and_centre_on_the_label() -> None:
    plt = _pyplot()
    fig, ax = plt.subplots()
    series = [("easy", {"a": 10.0, "b": 20.0}, "#111111"), ("hard", {"a": 30.0}, "#222222"),
              ("real", {"a": 0.0, "b": 5.0}, "#333333")]
    _grouped_barh(ax, ["a", "b"], series)
    bars = [(p.get_y() + p.get_height() / 2, p.get_width()) for p in ax.patches]
    plt.close(fig)
    a_centres = [y for y, _ in bars[:3]]
    b_centres = [y for y, _ in bars[3:]]
    assert len(bars) == 5  # b has no hard bar and no empty slot for it
    assert sum(a_centres) / 3 == pytest.approx(0.0) and sum(b_centres) / 2 == pytest.approx(1.0)
    assert max(b_centres) - min(b_centres) == pytest.approx(a_centres[1] - a_centres[0])


def _count_colour(png: Path, hex_colour: str, tol: int = 12) -> int:
    target = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    with Image.open(png) as im:
        pixels = im.convert("RGB").getdata()
        return sum(1 for p in pixels if all(abs(c - t) <= tol for c, t in zip(p, target, strict=True)))


def test_charts_compare_all_models_with_consistent_colours(tmp_path: Path) -> None:
    safe = write_mis_v2(tmp_path / "safe", "org/all-safe", _splits(
        {"easy": ["refusal"] * 4, "hard": ["safe_reasoning"] * 4, "benign": ["safe_reasoning"] * 2}))
    unsafe = write_mis_v2(tmp_path / "unsafe", "org/unsafe", _splits(
        {"easy": ["attack_success", "refusal"] * 2, "hard": ["attack_success"] * 4,
         "benign": ["refusal"] * 2}))
    write_benchmark_v2(tmp_path / "mmstar", "mmstar", "general", "org/unsafe", {"accuracy": 40.0}, "accuracy",
                       True)
    paths = build_report([safe, unsafe, tmp_path / "mmstar"], tmp_path / "out", sub_categories=True)
    assert set(paths.charts) == {"headline", "categories_easy", "categories_hard", "sub_categories_easy",
                                 "sub_categories_hard", "safety_vs_helpfulness"}
    for png in paths.charts.values():
        with Image.open(png) as im:
            assert im.format == "PNG" and 500 <= im.width <= 700  # narrow: readable when shrunk to a phone
    head = paths.chart_data["headline"]
    assert head["all-safe"] == {"easy_asr": 0.0, "hard_asr": 0.0, "benign_over_refusal": 0.0}
    assert head["unsafe"] == {"easy_asr": 50.0, "hard_asr": 100.0, "benign_over_refusal": 100.0}
    # every split's colour is drawn (the all-zero model's bars show as ticks at 0), and only known colours
    for split in ("easy", "hard", "benign"):
        assert _count_colour(paths.charts["headline"], SPLIT_COLOURS[split]) > 20, split
    colours = model_colours(["all-safe", "unsafe"])
    cats = paths.chart_data["categories_hard"]
    assert set(cats["all-safe"].values()) == {0.0} and set(cats["unsafe"].values()) == {100.0}
    assert "Hate" in cats["unsafe"] and "Erotic" not in cats["unsafe"]  # empty buckets are not bars
    # the all-zero model is still visible in its own colour
    assert _count_colour(paths.charts["categories_hard"], colours["all-safe"]) > 20
    assert _count_colour(paths.charts["categories_hard"], colours["unsafe"]) > 200
    scatter = paths.chart_data["safety_vs_helpfulness"]
    assert scatter["unsafe"] == {"over-refusal": 100.0, "general score": 40.0, "hard_asr": 100.0}
    assert scatter["all-safe"] == {"over-refusal": 0.0, "hard_asr": 0.0}
