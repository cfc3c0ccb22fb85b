"""A very small `mis demo` run through the real CLI: every stage runs, results files and the table exist."""

import json

import pytest
from typer.testing import CliRunner


@pytest.mark.slow
def test_demo_smoke(tmp_path):
    from mis.cli import app

    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--n-train", "16", "--n-general", "16", "--n-eval", "6",
            "--general-steps", "2", "--train-steps", "2", "--batch-size", "4", "--threads", "1"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "MIS-mini" in result.output and "mirage" in result.output and "RSR" in result.output
    results = json.loads((out / "demo_results.json").read_text())
    assert set(results["models"]) == {"base", "mirage", "refusal"}
    for name, per in results["models"].items():
        assert set(per) == {"easy", "hard", "benign", "white"}
        for m in per.values():
            assert m["n"] == 6
            assert abs(m["asr"] + m["hr"] + m["rsr"] + m["rr"] + m["unknown"] - 100) < 1e-6
            assert m["unknown"] == 0  # the exact judge always has ground truth here
        run = out / "runs" / name
        assert (run / "results.json").is_file() and (run / "samples.jsonl").is_file()
        rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
        assert len(rows) == 24 and all(r["judge"] for r in rows)
    assert (out / "report" / "report.html").is_file()
    assert (out / "report" / "leaderboard.md").is_file()
    # rerun resumes: nothing is trained or evaluated again
    again = CliRunner().invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "demo_results.json").read_text())["models"] == results["models"]
