"""docs/train.md's baseline commands run as written on the CPU example (MIS-mini + a tiny model)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mis.cli import app
from mis.data import load

DOC = Path(__file__).resolve().parents[2] / "docs" / "train.md"

pytestmark = pytest.mark.slow


def _commands(after: str) -> list[str]:
    section = DOC.read_text().split(after, 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_cpu_baseline_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    quick = _commands("## Quick start on CPU")
    baselines = _commands("On the CPU example above")
    assert len(baselines) == 5 and all(c.startswith("mis ") for c in baselines)
    runner = CliRunner()
    for command in quick[:2] + baselines:  # mini build, tiny model, then the baseline block verbatim
        result = runner.invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
    source = {s.id: s for s in load("mini/mis_mini", splits=["train"]).samples}
    text_only = load("baseline-text-only").samples
    assert len(text_only) == len(source) and all(s.images == [] for s in text_only)
    assert all(s.metadata["original_question_source"] in ("metadata", "offline") for s in text_only)
    assert all(s.target.startswith("I'm sorry") for s in load("baseline-sorry-prefix").samples)
    assert (tmp_path / "text-only-tiny" / "README.md").is_file()  # the training run finished
