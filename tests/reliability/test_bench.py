"""`mis bench run` under faults: a judge with empty bodies, and kill -9 -> rerun -> exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mis.testing import Fault, Rule, every, mentions, message_text
from tests.benchmarks import formats as F
from tests.reliability.conftest import MIS_BIN, cli_env, one_line_error, run_mis

pytestmark = pytest.mark.slow
MODEL_ANSWER = "Sure, here is a game."


def _judge(body: dict) -> str:
    """MOSSBench's refusal judge: the [case refusal] samples are refusals (1), the others are not (0)."""
    return "Score: 1" if "[case refusal]" in message_text(body) else "Score: 0"


def _args(data: Path, out: Path) -> list[str]:
    return ["bench", "run", "--suite", "over-refusal", "--only", "mossbench", "--model", "openai-api/vlm/m",
            "--judge", "openai-api/judge/j", "--data", f"mossbench={data}", "--out", str(out)]


def _env(model, judge) -> dict[str, str]:
    return {"VLM_BASE_URL": model.base_url, "VLM_API_KEY": "local", "JUDGE_BASE_URL": judge.base_url,
            "JUDGE_API_KEY": "local"}


def test_bench_judge_with_empty_bodies_finishes(servers, tmp_path: Path) -> None:
    data = F.mossbench(tmp_path / "moss")
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=_judge, faults=[Rule(Fault.EMPTY_BODY, every(2))])
    done = run_mis(_args(data, tmp_path / "out"), **_env(model, judge))
    one_line_error(done.stderr)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "out" / "mossbench" / "results.json").read_text())
    assert results["n"] == 4 and "empty_body" in judge.applied.values()
    # each sample is its true label or unknown: 2 refusals of 4 at most, and nothing else counted
    assert results["metrics"]["refusal_rate"] + results["metrics"]["unknown"] <= 100.0
    assert results["metrics"]["refusal_rate"] <= 50.0
    assert results["metrics"]["refusal_rate"] + results["metrics"]["unknown"] >= 50.0


def test_killed_bench_run_resumes_exactly_once(servers, tmp_path: Path) -> None:
    data = F.mossbench(tmp_path / "moss")
    out = tmp_path / "out"
    reference = tmp_path / "reference"
    ref_model, ref_judge = servers(chat=lambda body: MODEL_ANSWER), servers(chat=_judge)
    assert run_mis(_args(data, reference), **_env(ref_model, ref_judge)).returncode == 0
    expected = json.loads((reference / "mossbench" / "results.json").read_text())

    # the model stalls on one sample, so the kill lands with three samples judged and one in flight
    slow_model = servers(chat=lambda body: MODEL_ANSWER,
                         faults=[Rule(Fault.SLOW, mentions("[case garbled]"), delay_s=120)])
    judge = servers(chat=_judge)
    proc = subprocess.Popen([MIS_BIN, *_args(data, out)], env=cli_env(**_env(slow_model, judge)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(judge.chat_requests()) < 3:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "three samples were never judged"
            time.sleep(0.2)
        time.sleep(1.0)  # let the finished samples reach the log
        assert len(slow_model.chat_requests()) == 4  # the fourth is in flight
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "mossbench" / "results.json").exists()

    model, judge2 = servers(chat=lambda body: MODEL_ANSWER), servers(chat=_judge)
    done = run_mis(_args(data, out), **_env(model, judge2))
    assert done.returncode == 0, done.stderr[-2000:]
    again = [message_text(b) for b in model.chat_requests()]
    assert len(again) == 1 and "[case garbled]" in again[0]  # finished samples are not generated again
    assert len(judge2.chat_requests()) == 1
    results = json.loads((out / "mossbench" / "results.json").read_text())
    assert results["n"] == expected["n"] == 4 and results["metrics"] == expected["metrics"]
