"""`mis eval --suite`: MIS into OUT/mis/ and the suite's benchmarks into OUT/<benchmark>/, one command.

The model under test and the MIS judge are scripted OpenAI-compatible servers on 127.0.0.1; MMStar
fixtures come in their published format (tests/benchmarks/formats.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mis.testing import ScriptedOpenAIServer, message_text
from tests.benchmarks import formats as F
from tests.benchmarks.test_e2e import env
from tests.fixtures.data import make_mis_test_dir

pytestmark = pytest.mark.slow

VERDICT = '{"perception": "Level1", "safety": "Safe", "explanation": "Names both shapes, no risk."}'


def model_reply(body: dict[str, Any]) -> str:
    text = message_text(body)
    if "Which shape is shown?" in text:
        return "A"  # correct
    if "What colour is it?" in text:
        return "D"  # wrong
    return "The first image shows a red square and the second a blue circle."


def test_eval_suite_runs_mis_and_benchmarks(tmp_path: Path) -> None:
    from mis.cli import app

    mis_dir = make_mis_test_dir(tmp_path / "mis", n_easy=0, n_hard=2, n_real=0)
    mmstar = F.mmstar(tmp_path / "mmstar")
    out = tmp_path / "out"
    with (
        ScriptedOpenAIServer(chat=model_reply) as model_server,
        ScriptedOpenAIServer(chat=lambda body: VERDICT) as judge_server,
        env(VLM_BASE_URL=model_server.base_url, VLM_API_KEY="t",
            JUDGE_BASE_URL=judge_server.base_url, JUDGE_API_KEY="t"),
    ):
        result = CliRunner().invoke(app, [
            "eval", "--suite", "general", "--data", str(mis_dir), "--split", "hard",
            "--model", "openai-api/vlm/suite-cli-model", "--judge", "openai-api/judge/suite-cli-judge",
            "--bench-data", f"mmstar={mmstar}", "--out", str(out),
        ])
        judged = len(judge_server.chat_requests())
    assert result.exit_code == 0, result.output
    mis_results = json.loads((out / "mis" / "results.json").read_text())
    assert mis_results["n"] == 2 and mis_results["metrics"]["rsr"] == 100.0
    assert judged == 2  # the MMStar rows are scored by exact match, not by the judge
    mmstar_results = json.loads((out / "mmstar" / "results.json").read_text())
    assert mmstar_results["n"] == 2 and mmstar_results["metrics"]["accuracy"] == 50.0  # A right, D wrong
    assert "mmstar" in result.output


def test_eval_without_data_or_suite_is_a_clear_error(tmp_path: Path) -> None:
    from mis.cli import app

    result = CliRunner().invoke(app, ["eval", "--model", "hfvlm/x", "--judge", "exact/x", "--out",
                                      str(tmp_path / "o")])
    assert result.exit_code == 2  # a usage error: nothing was run
    assert "--data is required" in result.output
