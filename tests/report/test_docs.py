"""docs/report.md runs as written, on run folders at the paths its text names (made by `make demo` and by
the offline walkthrough of docs/evaluate.md; copies of real run folders stand in for them here)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mis.cli.report  # noqa: F401  (registers `mis report`)
from mis.cli._app import app

pytestmark = pytest.mark.xdist_group("report")
ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "report.md"
DATA = Path(__file__).parent / "data"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def test_docs_report_md_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("base", "mirage"):
        shutil.copytree(DATA / "v010_demo" / name, tmp_path / "demo_out" / "runs" / name)
    shutil.copytree(DATA / "mis_mini", tmp_path / "demo_out" / "mis_mini")  # the rows' relative image paths
    shutil.copytree(DATA / "v010_suite" / "mis", tmp_path / "runs" / "tiny-qwen")
    text = DOC.read_text()
    assert "demo_out/runs/base" in text and "runs/tiny-qwen" in text  # the folders those commands create
    ran = {"bash": 0, "python": 0}
    for lang, body in _BLOCK.findall(text):
        if lang == "bash":
            for line in body.splitlines():
                argv = shlex.split(line)
                assert argv[0] == "mis", line
                result = CliRunner().invoke(app, argv[1:], terminal_width=120)
                assert result.exit_code == 0, f"{line}\n{result.output}"
                ran["bash"] += 1
        elif lang == "python":
            exec(compile(body, str(DOC), "exec"), {})  # noqa: S102 - our own docs
            ran["python"] += 1
    assert ran == {"bash": 2, "python": 1}
    for out in (tmp_path / "demo_out" / "report", tmp_path / "compare"):
        for name in ("leaderboard.md", "leaderboard.csv", "results.csv", "report.html",
                     "report_files/index.js", "charts/headline.png", "thumbs/cache.json"):
            assert (out / name).is_file(), out / name
    compare = (tmp_path / "compare" / "leaderboard.md").read_text()
    assert "sorted by easy ASR ↓" in compare and compare.count("(published) †") == 15
    # every file the doc's table promises is one the report wrote
    promised = re.findall(r"^\| `([^`]+)`(?:, `([^`]+)`)? \|", text.split("## What it writes")[1]
                          .split("##")[0], re.M)
    for names in promised:
        for name in filter(None, names):
            pattern = name.replace("<split>", "*").rstrip("/")
            assert list((tmp_path / "demo_out" / "report").glob(pattern)), name
