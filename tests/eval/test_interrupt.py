"""Ctrl-C during `mis eval`: one line counting what was kept and saying to rerun; no traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mis.testing import ScriptedOpenAIServer, ScriptedReply, message_text
from tests.eval.conftest import MIS_BIN, cli_env

pytestmark = pytest.mark.slow


def _model(body: dict) -> ScriptedReply:
    slow = "[sample hard/3]" in message_text(body) or "[sample real/1]" in message_text(body)
    return ScriptedReply("A square.", delay_s=30.0 if slow else 0.0)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_ctrl_c_keeps_what_finished_and_says_how_to_resume(tagged_mis: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ScriptedOpenAIServer(chat=_model, model_ids=("m",)) as server:
        args = [
            MIS_BIN,
            "eval",
            "--data",
            str(tagged_mis),
            "--split",
            "all",
            "--model",
            "openai-api/int/m",
            "--model-base-url",
            server.base_url,
            "--judge",
            "exact/mis-mini",
            "--out",
            str(out),
            "--fail-on-unknown",
            "100",
        ]
        # a child inherits an ignored or blocked SIGINT (a suite started in the background, a library that
        # masked it in this process): give `mis` the default disposition a terminal's Ctrl-C meets
        proc = subprocess.Popen(
            args, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = (
                (out / "checkpoint.jsonl").read_text().count("\n")
                if (out / "checkpoint.jsonl").exists()
                else 0
            )
            if done >= 6:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 4, stdout + stderr
    assert "interrupted" in stderr and "6 of 8 finished" in stderr and "rerun the same command" in stderr
    assert "Traceback" not in stderr
    kept = [json.loads(line)["uid"] for line in (out / "checkpoint.jsonl").read_text().splitlines()]
    assert len(kept) == 6
