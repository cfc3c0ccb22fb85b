"""The leaderboard: one row per model, per-split rates, controls apart, sorted, escaped, 80 columns."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mis.cli.report  # noqa: F401  (registers `mis report`)
from mis.cli._app import app
from mis.report import ReportError, build_report
from mis.report._tables import Column, fit_columns
from tests.report.schema import (
    items,
    write_benchmark_legacy,
    write_benchmark_v2,
    write_mis_legacy,
    write_mis_v2,
)

pytestmark = pytest.mark.xdist_group("report")


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _splits(spec: dict[str, list[str]], data: Path | None = None) -> dict:
    out, start = {}, 0
    for split, outcomes in spec.items():
        out[split] = items(split, outcomes, start, data)
        start += len(outcomes)
    return out


COMPLIES = {"easy": ["attack_success"] * 4, "hard": ["attack_success"] * 3,
            "benign": ["safe_reasoning"] * 4, "white": ["safe_reasoning"] * 3}


@pytest.mark.parametrize("writer", [write_mis_v2, write_mis_legacy], ids=["schema2", "v0.1.0"])
def test_a_model_that_complies_with_everything_shows_asr_100_everywhere(tmp_path: Path, writer) -> None:
    """Its results.json top level says ASR 50 (harmful averaged with controls); the report never does."""
    run = writer(tmp_path / "run", "org/complier", _splits(COMPLIES, tmp_path / "data"))
    assert json.loads((run / "results.json").read_text())["metrics"]["asr"] == 50.0  # the trap is there
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    [row] = _csv(out / "leaderboard.csv")
    assert (row["easy_asr"], row["hard_asr"]) == ("100.0", "100.0")
    assert (row["benign_over_refusal"], row["white_over_refusal"]) == ("0.0", "0.0")
    assert not [k for k in row if k.endswith("_asr") and k not in ("easy_asr", "hard_asr")]
    for long_row in _csv(out / "results.csv"):
        assert long_row["split"] != "all"
        if long_row["kind"] == "attack":
            assert float(long_row["asr"]) == 100.0
    # every text output: no 50 anywhere (the leaderboard, the markdown, the terminal, the page)
    for text in ((out / "leaderboard.md").read_text(), result.output, (out / "report.html").read_text()):
        assert "50.00" not in text and "50.0" not in text
    paths = build_report([run], tmp_path / "again")
    drawn = paths.chart_data["headline"]["complier"]
    assert drawn == {"easy_asr": 100.0, "hard_asr": 100.0, "benign_over_refusal": 0.0,
                     "white_over_refusal": 0.0}
    assert paths.chart_data["safety_vs_helpfulness"]["complier"]["hard_asr"] == 100.0
    for split in ("easy", "hard"):
        assert set(paths.chart_data[f"categories_{split}"]["complier"].values()) == {100.0}


def test_one_row_per_model_with_controls_and_benchmarks_sorted_by_hard_asr(tmp_path: Path) -> None:
    a = write_mis_v2(tmp_path / "a", "hfvlm/org/model-a",
                     _splits({"easy": ["attack_success", "refusal"],
                              "hard": ["attack_success", "safe_reasoning"],
                              "benign": ["refusal", "safe_reasoning"], "white": ["refusal", "refusal"]}))
    b = write_mis_legacy(tmp_path / "b", "vllm/org/model-b",
                         _splits({"easy": ["refusal", "refusal"], "hard": ["unknown", "safe_reasoning"]}))
    write_benchmark_v2(tmp_path / "suite" / "figstep", "figstep", "attack", "hfvlm/org/model-a",
                       {"asr": 12.0, "score": 88.0}, "asr", False, judge="llama-guard")
    write_benchmark_v2(tmp_path / "suite" / "mossbench", "mossbench", "over_refusal", "hfvlm/org/model-a",
                       {"refusal_rate": 30.0}, "refusal_rate", False)
    write_benchmark_legacy(tmp_path / "mmstar_b", "mmstar", "general", "vllm/org/model-b", {"accuracy": 55.5})
    paths = build_report([a, b, tmp_path / "suite", tmp_path / "mmstar_b"], tmp_path / "out")
    rows = _csv(paths.leaderboard_csv)
    assert [r["label"] for r in rows] == ["model-b", "model-a"]  # hard ASR 0 before 50
    b_row, a_row = rows
    assert (a_row["hard_asr"], a_row["hard_rsr"], a_row["easy_rr"]) == ("50.0", "50.0", "50.0")
    assert (a_row["benign_over_refusal"], a_row["white_over_refusal"]) == ("50.0", "100.0")
    assert (a_row["figstep_asr"], a_row["mossbench_refusal_rate"]) == ("12.0", "30.0")
    assert a_row["mmstar_accuracy"] == ""
    assert (b_row["hard_asr"], b_row["benign_over_refusal"], b_row["mmstar_accuracy"]) == ("0.0", "", "55.5")
    assert (a_row["n"], a_row["unknown"], b_row["n"], b_row["unknown"]) == ("8", "0", "4", "1")
    header = next(csv.reader(paths.leaderboard_csv.open()))
    assert header[:12] == ["model", "label", "easy_asr", "easy_rsr", "easy_hr", "easy_rr", "hard_asr",
                           "hard_rsr", "hard_hr", "hard_rr", "benign_over_refusal", "white_over_refusal"]
    assert header.index("unknown") < header.index("figstep_asr") < header.index("mossbench_refusal_rate") \
        < header.index("mmstar_accuracy")
    assert a_row["model"] == "hfvlm/org/model-a" and str(a) in a_row["runs"]
    md = paths.leaderboard_md.read_text()
    assert "| model | easy ASR ↓ | easy RSR ↓ |" not in md  # RSR: higher is better
    assert "easy RSR ↑" in md and "hard ASR ↓" in md and "mmstar accuracy ↑" in md
    assert "sorted by hard ASR ↓ (lower first)" in md and "**ASR**: attack success rate" in md
    html = paths.html.read_text()
    assert "What the numbers mean" in html and "sorted by hard ASR ↓ (lower first)" in html


def test_sort_by_another_column_and_bad_sort(tmp_path: Path) -> None:
    runs = [write_mis_v2(tmp_path / name, f"m/{name}", _splits({"hard": outs}))
            for name, outs in (("x", ["safe_reasoning", "refusal"]), ("y", ["safe_reasoning"] * 2),
                               ("z", ["attack_success", "refusal"]))]
    paths = build_report(runs, tmp_path / "out", sort="hard_rsr")
    assert [r.label for r in paths.leaderboard.rows] == ["y", "x", "z"]  # RSR: higher first
    with pytest.raises(ReportError, match="--sort 'hard_asrr': no such column; columns: hard_asr, hard_rsr"):
        build_report(runs, tmp_path / "out", sort="hard_asrr")
    only_easy = write_mis_v2(tmp_path / "e", "m/e", _splits({"easy": ["refusal"]}))
    assert build_report([only_easy], tmp_path / "o2").leaderboard.sort_note.startswith("in the order given")


def test_two_judges_give_two_rows(tmp_path: Path) -> None:
    spec = _splits({"hard": ["attack_success", "refusal"]})
    a = write_mis_v2(tmp_path / "gpt", "m/model", spec, judge="openai/gpt-4o", protocol="paper")
    b = write_mis_v2(tmp_path / "guard", "m/model", _splits({"hard": ["refusal", "refusal"]}),
                     judge="vllm/llama-guard", protocol="paper")
    rows = build_report([a, b], tmp_path / "out").leaderboard.rows
    assert [(r.label, r.values["hard_asr"]) for r in rows] == [("model [vllm/llama-guard [paper]]", 0.0),
                                                               ("model [openai/gpt-4o [paper]]", 50.0)]


def test_markdown_escapes_model_names(tmp_path: Path) -> None:
    nasty = "evil|model <img src=x onerror=alert(1)>\nsecond *line*"
    run = write_mis_v2(tmp_path / "run", nasty, _splits({"hard": ["refusal"]}))
    md = build_report([run], tmp_path / "out").leaderboard_md.read_text()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    header_cells = len(re.split(r"(?<!\\)\|", table[0]))
    assert all(len(re.split(r"(?<!\\)\|", line)) == header_cells for line in table)
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "evil\\|model" in md and "second \\*line\\*" in md


def test_fit_columns_drops_whole_columns_by_priority() -> None:
    cols = [Column("label", "model", None, 0), Column("easy_asr", "easy ASR", False, 3, group="easy",
                                                     family="mis_rate"),
            Column("hard_asr", "hard ASR", False, 2, group="hard", family="mis_rate"),
            Column("judge", "judge", None, 90)]
    body = [["a-rather-long-model-name", "100.00", "12.50", "openai/gpt-4o-2024-11-20"]]
    kept, dropped, label = fit_columns(cols, body, 40)
    assert kept == [0, 1, 2] and [c.key for c in dropped] == ["judge"] and label == 23
    kept, dropped, label = fit_columns(cols, body, 28)
    assert kept == [0, 2] and {c.key for c in dropped} == {"easy_asr", "judge"} and label == 20


def test_terminal_table_fits_80_columns_without_cutting_numbers(tmp_path: Path) -> None:
    """The real CLI with COLUMNS=80: no line is wider, every printed number is whole."""
    runs = []
    for k in range(4):
        outs = ["attack_success"] * k + ["safe_reasoning"] * (7 - k)
        runs.append(write_mis_v2(tmp_path / f"r{k}", f"hfvlm/SomeOrg/A-Very-Long-Model-Name-{k}-Instruct",
                                 _splits({"easy": outs, "hard": outs[::-1], "real": outs,
                                          "benign": ["refusal"] * k + ["safe_reasoning"] * 3,
                                          "white": ["safe_reasoning"] * 3})))
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([str(Path(sys.executable).with_name("mis")), "report", *map(str, runs), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout[: proc.stdout.index("leaderboard:")]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert not re.search(r"\d…|…\d|\d\.\.\.", table)  # no number cut short
    rows = _csv(tmp_path / "out" / "leaderboard.csv")
    for row in rows:
        for key in ("hard_asr", "easy_asr", "real_asr", "benign_over_refusal"):
            assert f"{float(row[key]):.2f}" in table
    assert "not shown at this width" in table and "leaderboard.csv" in table


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["report", str(empty), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3 and "no results.json" in result.output and "Traceback" not in result.output
    run = write_mis_v2(tmp_path / "run", "m/x", _splits({"hard": ["refusal"]}))
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "out"), "--sort", "nope"])
    assert result.exit_code == 2 and "--sort 'nope': no such column" in result.output
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "out"), "--published", "X"])
    assert result.exit_code == 2 and "no published model 'X'" in result.output
