"""The commands in docs/benchmarks.md parse and route as written (data folders absent -> clear error)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mis.cli import app
from mis.eval import registered
from mis.eval.suite import SUITES

DATA_KEY = {name: spec.key for name, spec in registered().items() if name != "mis"}

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
COMMANDS = re.findall(r"`(mis bench run [^`]+)`", DOC.read_text())


def test_every_benchmark_has_a_command():
    only = {shlex.split(c)[shlex.split(c).index("--only") + 1] for c in COMMANDS}
    assert only == set(DATA_KEY)


@pytest.mark.parametrize("command", COMMANDS)
def test_doc_command_runs_as_written(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[2:]
    suite, only = args[args.index("--suite") + 1], args[args.index("--only") + 1]
    assert only in SUITES[suite]
    data = [args[k + 1].split("=", 1)[0] for k, a in enumerate(args) if a == "--data"]
    assert data == [DATA_KEY[only]]
    result = CliRunner().invoke(app, ["bench", *args])
    assert result.exit_code == 3, result.output  # parsed and routed; stops at the absent data folder
    assert "no such file or folder" in result.output


def test_list_command():
    result = CliRunner().invoke(app, ["bench", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "white_image" in result.output and "mssbench_chat" in result.output
