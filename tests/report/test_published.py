"""The MIS authors' published numbers: packaged with their source, matched to runs, marked everywhere."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from mis.report import ReportError, build_report, published_models
from mis.report._published import match, parse_requests
from tests.report.schema import items, write_mis_v2

pytestmark = pytest.mark.xdist_group("report")


def _by_name() -> dict:
    return {p.name: p for p in published_models()}


def test_packaged_numbers_are_the_papers_and_the_project_pages() -> None:
    models = _by_name()
    assert len(models) == 15 and all(set(p.splits) == {"easy", "hard", "real"} for p in models.values())
    # the paper's anchor numbers (shared/reference/MIS.md section 8), easy ASR/HR/RSR/RR and hard ASR
    qwen = models["Qwen2-VL-7B-Instruct"]
    assert qwen.source == "paper"
    assert qwen.splits["easy"] == {"asr": 90.03, "rsr": 9.73, "hr": 0.12, "rr": 0.24}
    assert models["InternVL2.5-8B + MIRage"].splits["hard"]["rsr"] == 99.8
    assert models["GPT-4o"].splits["easy"]["rr"] == 40.06  # leaderboard.json's shifted row says 10.98
    assert models["Idefics3-8B"].source == "page" and models["Idefics3-8B"].splits["easy"]["hr"] == 7.77
    assert "arXiv 2501.18533" in qwen.citation and "DripNowhy/MIS" in models["Idefics3-8B"].citation
    # rows that do not add up to 100 as published are reported, not corrected
    assert models["Qwen2-VL-72B-Instruct"].sum_problems() == {"real": 111.0}
    assert models["InternVL2.5-8B"].sum_problems() == {"real": 101.0}
    assert models["Gemini-1.5-pro"].sum_problems() == {}


@pytest.mark.parametrize(("model", "name"), [
    ("hfvlm/Qwen/Qwen2-VL-7B-Instruct", "Qwen2-VL-7B-Instruct"),
    ("vllm/Qwen/Qwen2-VL-7B-Instruct", "Qwen2-VL-7B-Instruct"),
    ("openai-api/vllm/Qwen2-VL-7B-Instruct", "Qwen2-VL-7B-Instruct"),
    ("hfvlm//data/ckpts/qwen2-vl-7b-instruct", "Qwen2-VL-7B-Instruct"),
    ("hfvlm/OpenGVLab/InternVL2_5-8B-hf", "InternVL2.5-8B"),
    ("hfvlm/Tuwhy/InternVL2.5-8B-MIRage", "InternVL2.5-8B + MIRage"),
    ("openai/gpt-4o-2024-11-20", "GPT-4o"),
    ("hfvlm/Qwen/Qwen2-VL-7B-Instruct-my-finetune", None),
    ("openai/gpt-4o-mini", None),
])
def test_runs_match_by_the_explicit_alias_list(model: str, name: str | None) -> None:
    got = match(model)
    assert (got.name if got else None) == name


def test_published_requests() -> None:
    assert parse_requests(None) == (True, [])
    auto, explicit = parse_requests(["GPT-4o=openai/gpt-4o-mini", "qwen2-vl-7b-instruct"])
    assert not auto and [(p.name, m) for p, m in explicit] == [("GPT-4o", "openai/gpt-4o-mini"),
                                                              ("Qwen2-VL-7B-Instruct", None)]
    assert len(parse_requests("all")[1]) == 15
    with pytest.raises(ReportError, match="no published model 'GPT-5'; published models: Qwen2-VL-7B"):
        parse_requests(["GPT-5"])
    with pytest.raises(ReportError, match="'none' cannot be combined"):
        parse_requests(["none", "all"])


def _run(tmp_path: Path, name: str, model: str, hard: list[str]) -> Path:
    return write_mis_v2(tmp_path / name, model, {"hard": items("hard", hard)})


def test_published_row_sits_below_the_run_and_is_marked_everywhere(tmp_path: Path) -> None:
    qwen = _run(tmp_path, "qwen", "hfvlm/Qwen/Qwen2-VL-7B-Instruct", ["attack_success", "refusal"])
    mine = _run(tmp_path, "mine", "hfvlm/my/model", ["refusal", "refusal"])
    worst = _run(tmp_path, "worst", "hfvlm/my/worst", ["attack_success"] * 2)
    paths = build_report([worst, qwen, mine], tmp_path / "out")
    labels = [r.label for r in paths.leaderboard.rows]
    assert labels == ["model", "Qwen2-VL-7B-Instruct", "Qwen2-VL-7B-Instruct (published)", "worst"]
    with paths.leaderboard_csv.open(newline="") as fh:
        rows = {r["label"]: r for r in csv.DictReader(fh)}
    pub = rows["Qwen2-VL-7B-Instruct (published)"]
    assert pub["source"] == "published: paper (arXiv 2501.18533)" and rows["model"]["source"] == "run"
    assert (pub["hard_asr"], pub["easy_rsr"], pub["real_rr"], pub["unknown"]) == ("89.41", "9.73", "1.0", "")
    assert pub["runs"] == ""
    md = paths.leaderboard_md.read_text()
    assert re.search(r"^\| Qwen2-VL-7B-Instruct \(published\) † \|", md, re.M)
    assert "real sums to 99.00" in md  # 81 + 0 + 17 + 1 as published
    html = paths.html.read_text()
    assert html.count('<tr class="published">') == 1 and "Qwen2-VL-7B-Instruct (published)" in html
    with paths.results_csv.open(newline="") as fh:
        sources = {r["source"] for r in csv.DictReader(fh) if r["model"].endswith("(published)")}
    assert sources == {"published: paper (arXiv 2501.18533)"}
    assert paths.chart_data["headline"]["Qwen2-VL-7B-Instruct (published)"]["hard_asr"] == 89.41
    assert "categories_hard" in paths.chart_data
    # no per-category numbers are published
    assert "Qwen2-VL-7B-Instruct (published)" not in paths.chart_data["categories_hard"]


def test_published_on_request_and_off(tmp_path: Path) -> None:
    mine = _run(tmp_path, "mine", "hfvlm/my/model", ["refusal"])
    qwen = _run(tmp_path, "qwen", "hfvlm/Qwen/Qwen2-VL-7B-Instruct", ["refusal"])
    none = build_report([qwen], tmp_path / "a", published="none")
    assert [r.source for r in none.leaderboard.rows] == ["run"]
    beside = build_report([mine, qwen], tmp_path / "b", published=["GPT-4o=hfvlm/my/model"])
    assert [r.label for r in beside.leaderboard.rows] == ["model", "GPT-4o (published)",
                                                          "Qwen2-VL-7B-Instruct"]
    every = build_report([mine], tmp_path / "c", published=["all"])
    assert sum(r.published for r in every.leaderboard.rows) == 15
    with pytest.raises(ReportError, match="no run has model 'hfvlm/other'"):
        build_report([mine], tmp_path / "d", published=["GPT-4o=hfvlm/other"])
