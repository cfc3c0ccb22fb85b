"""Quiet by default: `mis eval` on 400 samples prints no warning line (issue 16), only its table and paths."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mis.testing import ScriptedOpenAIServer, message_text
from tests.eval.conftest import MIS_BIN, cli_env
from tests.fixtures.data import make_mis_test_dir

pytestmark = pytest.mark.slow

VERDICT = json.dumps({"label_perception": "Perception Level1", "label_str": "Safe"})


def test_eval_on_400_samples_prints_no_warning(tmp_path: Path) -> None:
    data = make_mis_test_dir(tmp_path / "mis", n_easy=200, n_hard=200, n_real=0)
    with ScriptedOpenAIServer(
        chat=lambda b: VERDICT if "red-teaming" in message_text(b) else "A square.", model_ids=("m", "j")
    ) as server:
        proc = subprocess.run(
            [
                MIS_BIN,
                "eval",
                "--data",
                str(data),
                "--split",
                "all",
                "--model",
                "openai-api/quiet/m",
                "--model-base-url",
                server.base_url,
                "--judge",
                "openai-api/quiet/j",
                "--judge-base-url",
                server.base_url,
                "--out",
                str(tmp_path / "out"),
                "--max-connections",
                "32",
                "--judge-max-connections",
                "32",
            ],
            capture_output=True,
            text=True,
            env=cli_env(COLUMNS="80"),
            timeout=900,
        )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["n"] == 400 and results["metrics"]["rsr"] == 100.0
    output = proc.stdout + proc.stderr
    noisy = [
        ln for ln in output.splitlines() if "WARNING" in ln or "Warning" in ln or "Unable to convert" in ln
    ]
    assert noisy == [], noisy[:5]
    # the terminal table fits 80 columns without cutting a number or a name
    assert "…" not in proc.stdout and max(len(line) for line in proc.stdout.splitlines()) <= 80
    assert "100.00" in proc.stdout and "split easy" in proc.stdout
