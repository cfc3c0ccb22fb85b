"""The docs run as written: docs/evaluate.md's offline walkthrough, docs/architecture.md's walkthroughs.

docs/models.md is checked against the presets in tests/models/test_presets.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _block_after(text: str, heading: str) -> list[str]:
    section = text.split(heading, 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.slow
def test_offline_walkthrough_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    commands = _block_after((DOCS / "evaluate.md").read_text(), "## Try it offline")
    assert len(commands) == 4 and commands[2] == commands[3]  # the rerun is the resume path
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", INSPECT_DISPLAY="none")
    for command in commands:
        proc = subprocess.run(shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    out = tmp_path / "runs/tiny-qwen"
    results = json.loads((out / "results.json").read_text())
    assert results["judge"] == "exact/mis-mini" and results["n"] == 6
    assert round(sum(results["metrics"].values()), 2) == 100.0
    assert len((out / "checkpoint.jsonl").read_text().splitlines()) == 6  # the rerun judged nothing again
    assert len((out / "samples.jsonl").read_text().splitlines()) == 6

    # the Python section reuses the same run folder (same identity): it only rewrites the results
    section = (DOCS / "evaluate.md").read_text().split("## Python", 1)[1]
    code = section.split("```python\n", 1)[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/evaluate.md", "exec"), {})  # noqa: S102 - the documented snippet, verbatim
    assert str(results["metrics"]) in capsys.readouterr().out


@pytest.mark.slow
def test_architecture_walkthroughs_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """docs/architecture.md: adding a benchmark and adding a judge, every python block in order."""
    text = (DOCS / "architecture.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for k, code in enumerate(blocks):
        exec(compile(code, f"docs/architecture.md[{k}]", "exec"), namespace)  # noqa: S102 - the documented code
    out = capsys.readouterr().out
    assert "{'metric': 'refusal_rate', 'value': 0.0, 'higher_is_better': False}" in out
    assert "colour-named 64" in out
    results = json.loads((tmp_path / "runs/tiles/tiles/results.json").read_text())
    assert results["benchmark"] == "tiles" and results["kind"] == "over_refusal" and results["n"] == 3
    for path in re.findall(r"`(src/mis/[^`]+?\.(?:py|jinja|yaml))`", text):  # the files the table names exist
        if "<" not in path:
            assert (DOCS.parent / path).is_file(), path
