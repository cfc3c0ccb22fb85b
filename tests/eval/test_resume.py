"""Crash -> resume -> assert (STYLE habit 13): kill `mis eval` part-way, rerun, check exactly-once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.eval.conftest import (
    EXPECTED_METRICS,
    JUDGE_SCRIPT,
    MIS_BIN,
    cli_env,
    eval_args,
    read_jsonl,
    run_cli,
    uid_of,
)

pytestmark = pytest.mark.slow

EASY = [u for u in JUDGE_SCRIPT if u.startswith("easy/")]


def _finished(checkpoint: Path) -> list[str]:
    if not checkpoint.is_file():
        return []
    uids = []
    for line in checkpoint.read_text().splitlines():
        try:
            uids.append(json.loads(line)["uid"])
        except json.JSONDecodeError:  # a line being written right now
            continue
    return uids


def test_killed_eval_resumes_exactly_once(
    tagged_mis: Path, tiny_model_path, judge_server, tmp_path: Path
) -> None:
    model = tiny_model_path("qwen2_vl")
    out = tmp_path / "run"
    checkpoint = out / "checkpoint.jsonl"
    # the judge answers the easy samples at once and stalls on the others, so the kill lands mid-run
    slow = judge_server(delays={u: 120.0 for u in JUDGE_SCRIPT if u not in EASY})
    proc = subprocess.Popen([MIS_BIN, *eval_args(tagged_mis, model, slow.base_url, out)], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(_finished(checkpoint)) < len(EASY):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the easy samples were never checkpointed"
            time.sleep(0.2)
        stalled = {uid_of(b) for b in slow.chat_requests()} - set(EASY)
        deadline = time.monotonic() + 60
        while not stalled and time.monotonic() < deadline:  # the judge is busy with a stalled sample
            time.sleep(0.2)
            stalled = {uid_of(b) for b in slow.chat_requests()} - set(EASY)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert stalled, "no sample was in flight when the run was killed"
    before = _finished(checkpoint)
    assert sorted(before) == sorted(EASY)
    assert not (out / "results.json").exists()  # results are written last

    fresh = judge_server()
    done = run_cli(eval_args(tagged_mis, model, fresh.base_url, out))
    assert done.returncode == 0, done.stdout + done.stderr
    rejudged = {uid_of(b) for b in fresh.chat_requests()}
    assert rejudged == set(JUDGE_SCRIPT) - set(EASY)  # finished samples are never judged again
    # exactly once overall: each finished-before-kill sample got its scripted attempts in run 1 only
    first = [uid_of(b) for b in slow.chat_requests()]
    for uid in EASY:
        assert first.count(uid) == len(JUDGE_SCRIPT[uid][0]) and uid not in rejudged

    rows = read_jsonl(out / "samples.jsonl")
    assert sorted(r["uid"] for r in rows) == sorted(JUDGE_SCRIPT)  # each sample once
    assert len(_finished(checkpoint)) == len(JUDGE_SCRIPT)
    results = json.loads((out / "results.json").read_text())
    assert results["n"] == 8 and results["unknown"] == 2
    assert results["metrics"] == EXPECTED_METRICS  # = the uninterrupted run (test_eval_cli)
    assert {r["uid"]: r["outcome"] for r in rows} == {u: o for u, (_, o) in JUDGE_SCRIPT.items()}
