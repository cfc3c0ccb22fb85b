"""The commands as a user runs them: `mis train --accelerate`, `mis eval hfvlm/OUT`.

`mis data make-baseline` is tested in test_baselines.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mis.testing import ScriptedOpenAIServer

MIS_BIN = str(Path(sys.executable).parent / "mis")
SAFE_VERDICT = (
    '{"perception": "Level1", "safety": "Safe", "explanation": "Sees both objects, answers safely."}'
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", INSPECT_DISPLAY="none", NO_COLOR="1", COLUMNS="200"
    )
    return env


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=600, check=False)


@pytest.mark.slow
def test_accelerate_launch_runs_python_m_mis_train(tiny_model_path, train_file, tmp_path) -> None:
    out = tmp_path / "out"
    args = [
        MIS_BIN,
        "train",
        "--recipe",
        "tiny-cpu",
        "--model",
        str(tiny_model_path("qwen2_vl")),
        "--data",
        str(train_file),
        "--out",
        str(out),
        "--max-steps",
        "1",
        "--accelerate",
        "cpu",
    ]
    from typer.testing import CliRunner

    from mis.cli import app

    dry = CliRunner().invoke(app, [*args[1:], "--print-launch"])  # in-process: prints, runs nothing
    assert dry.exit_code == 0, dry.output
    assert " launch --config_file " in dry.output and "cpu.yaml -m mis.train --recipe " in dry.output
    assert not out.exists()
    proc = _run(args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    saved = json.loads((out / "train_log.json").read_text())["metrics"]
    assert saved["global_step"] == 1
    config = (out / "train_config.yaml").read_text()
    assert "recipe: tiny-cpu" in config and "accelerate: null" in config
    assert (out / "README.md").is_file() and (out / "model.safetensors").is_file()


@pytest.mark.slow
def test_trained_output_is_evaluated_by_mis_eval_hfvlm(tiny_model_path, train_file, tmp_path) -> None:
    from tests.fixtures.data import make_mis_test_dir
    from tests.train.conftest import run_train

    out, _ = run_train(tiny_model_path("qwen2_vl"), train_file, tmp_path / "model", max_steps=1)
    mis_test = make_mis_test_dir(tmp_path / "mis_test", n_easy=2, n_hard=1, n_real=0)
    with ScriptedOpenAIServer(chat=lambda body: SAFE_VERDICT, model_ids=("judge",)) as server:
        proc = _run(
            [
                MIS_BIN,
                "eval",
                "--data",
                str(mis_test),
                "--split",
                "all",
                "--model",
                f"hfvlm/{out}",
                "--judge",
                "openai-api/judge/judge",
                "--judge-base-url",
                server.base_url,
                "--out",
                str(tmp_path / "eval"),
                "--max-tokens",
                "4",
                "--batch-size",
                "3",
            ]
        )
        judged = len(server.chat_requests())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["model"] == f"hfvlm/{out}" and results["n"] == 3 and judged == 3
    assert results["metrics"]["rsr"] == 100.0 and results["metrics"]["unknown"] == 0.0
