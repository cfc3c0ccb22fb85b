"""`mis data validate|stats|export` through the real CLI app: exit codes, tables, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mis.cli import app
from mis.data import DataError, export, load, stats

runner = CliRunner()


def test_validate_ok_and_problems(mis_test_dir: Path) -> None:
    ok = runner.invoke(app, ["data", "validate", str(mis_test_dir)])
    assert ok.exit_code == 0, ok.output
    assert "OK: 9 samples (easy 4, hard 3, real 2), 18 images decode" in ok.output

    (mis_test_dir / "hard_image/2/object2.png").unlink()
    records = json.loads((mis_test_dir / "mis_easy.json").read_text())
    records[0]["question"] = ""
    (mis_test_dir / "mis_easy.json").write_text(json.dumps(records))
    bad = runner.invoke(app, ["data", "validate", str(mis_test_dir)], terminal_width=200)
    assert bad.exit_code == 3
    assert "2 problem(s)" in bad.output
    assert "mis_hard.json" in bad.output and "image_path2" in bad.output
    assert "question is empty" in bad.output

    as_json = runner.invoke(app, ["data", "validate", str(mis_test_dir), "--json"])
    assert as_json.exit_code == 3
    rows = json.loads(as_json.stdout)
    assert {(Path(r["file"]).name, r["sample_id"], r["field"]) for r in rows} == {
        ("mis_hard.json", "2", "image_path2"), ("mis_easy.json", "1", "question")}


def test_stats_table_and_json(mis_test_dir: Path) -> None:
    table = runner.invoke(app, ["data", "stats", str(mis_test_dir)], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "Property Crimes" in table.output and "9 samples" in table.output
    as_json = runner.invoke(app, ["data", "stats", str(mis_test_dir), "--json", "--split", "hard"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == stats(load(mis_test_dir, splits=["hard"]))


def test_export_command_round_trip(mis_train_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "lf"
    result = runner.invoke(app, ["data", "export", str(mis_train_file), "--format", "llamafactory",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 samples (train 4) as llamafactory" in result.output
    assert [s.question for s in load(out)] == [s.question for s in load(mis_train_file)]
    again = runner.invoke(app, ["data", "export", str(mis_train_file), "-f", "swift", "-o", str(out)])
    assert again.exit_code == 3 and "not empty" in again.output
    wrong = runner.invoke(app, ["data", "export", str(mis_train_file), "-f", "csv", "-o", str(tmp_path)])
    assert wrong.exit_code == 2


def test_unreadable_source_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "mis_easy.json").write_text("{broken")
    stats_result = runner.invoke(app, ["data", "stats", str(tmp_path)])
    assert stats_result.exit_code == 3 and "not valid JSON" in stats_result.output
    validate_result = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert validate_result.exit_code == 3 and "not valid JSON" in validate_result.output


def test_export_length_check_with_a_real_processor(
    tiny_model_path, mis_test_dir: Path, tmp_path: Path
) -> None:
    model = tiny_model_path("qwen2_vl")
    samples = load(mis_test_dir, splits=["hard"]).samples
    export(samples, "swift", tmp_path / "fits", tokenizer=model, max_length=512)
    with pytest.raises(DataError, match=r"sample hard/1: field 'images'.*over --max-length 12 "
                                        r"\(image tokens run to position \d+, so images would be cut\)"):
        export(samples, "swift", tmp_path / "cut", tokenizer=model, max_length=12)
    assert not (tmp_path / "cut").exists()  # checked before anything is written
    result = runner.invoke(app, ["data", "export", str(mis_test_dir), "-f", "hf", "-o", str(tmp_path / "c"),
                                 "--tokenizer", str(model), "--max-length", "12"])
    assert result.exit_code == 3 and "over --max-length 12" in result.output
