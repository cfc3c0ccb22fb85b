"""Batch judging (`--judge-batch`) against the project's loopback server speaking OpenAI's Batch API.

The server answers each batch line with the same chat script a direct run gets (tests.eval.conftest's
JUDGE_SCRIPT), so a batch run must give the direct run's verdicts, requests and metrics; a rejected batch, a
refused line and a client killed with its batch in flight must all end with every sample judged exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mis.cli import app
from mis.testing import BatchOpenAIServer, ScriptedOpenAIServer, ScriptedReply
from tests.eval.conftest import (
    EXPECTED_METRICS,
    JUDGE_SCRIPT,
    MIS_BIN,
    ScriptedJudge,
    cli_env,
    read_jsonl,
    uid_of,
)

pytestmark = pytest.mark.slow

#: Fast batch timing for a test (inspect's defaults wait 15 s before sending and between polls).
#: The paper judge's model string (an unrecognised OpenAI name would get inspect's Responses API shape).
JUDGE = "openai/gpt-4o-2024-11-20"
FAST = ["--judge-batch-size", "4", "--judge-batch-delay", "0.3", "--judge-batch-poll", "0.2"]


def _responses(root: Path, path: Path) -> Path:
    rows = [
        dict(r, response=f"Mild synthetic answer about shapes ({split} {r['id']}).")
        for split in ("easy", "hard", "real")
        for r in json.loads((root / f"mis_{split}.json").read_text())
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _args(responses: Path, data: Path, url: str, out: Path, *extra: str) -> list[str]:
    return [
        "judge",
        str(responses),
        "--data",
        str(data),
        "--judge",
        JUDGE,
        "--judge-base-url",
        url,
        "--out",
        str(out),
        "--fail-on-unknown",
        "100",
        "--no-judge-cache",
        *extra,
    ]


def _judge(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output


def _outcomes(out: Path) -> dict[str, str]:
    rows = read_jsonl(out / "samples.jsonl")
    uids = [r["uid"] for r in rows]
    assert len(uids) == len(set(uids)), Counter(uids)  # every sample once
    return {r["uid"]: r["outcome"] for r in rows}


def _metrics(out: Path) -> dict[str, float]:
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    return {k: metrics[k] for k in EXPECTED_METRICS}


def _messages(bodies: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(b["messages"], sort_keys=True) for b in bodies)


def _batch_server(**kwargs: Any) -> BatchOpenAIServer:
    return BatchOpenAIServer(chat=ScriptedJudge(), model_ids=("judge",), **kwargs).start()


def test_a_batch_run_gives_the_direct_runs_requests_verdicts_and_metrics(
    tagged_mis: Path, tmp_path: Path
) -> None:
    responses = _responses(tagged_mis, tmp_path / "model_x.jsonl")
    direct = ScriptedOpenAIServer(chat=ScriptedJudge(), model_ids=("judge",)).start()
    batch = _batch_server()
    try:
        _judge(*_args(responses, tagged_mis, direct.base_url, tmp_path / "direct"))
        _judge(*_args(responses, tagged_mis, batch.base_url, tmp_path / "batch", "--judge-batch", *FAST))
    finally:
        direct.stop()
        batch.stop()
    assert batch.chat_requests() == []  # nothing went to /chat/completions
    batches = batch.batch_bodies()
    assert batches and all(1 <= len(b) <= 4 for b in batches), [len(b) for b in batches]
    assert set(batch.batch_statuses()) == {"completed"}
    lines = [body for b in batches for body in b]
    # the same requests (the unparseable replies' retries included), each sample's in its own line
    assert _messages(lines) == _messages(direct.chat_requests())
    assert Counter(uid_of(b) for b in lines) == Counter(uid_of(b) for b in direct.chat_requests())
    expected = {uid: outcome for uid, (_, outcome) in JUDGE_SCRIPT.items()}
    assert _outcomes(tmp_path / "batch") == _outcomes(tmp_path / "direct") == expected
    assert _metrics(tmp_path / "batch") == _metrics(tmp_path / "direct") == EXPECTED_METRICS


def test_rejected_batch_and_refused_line_are_retried_then_resumed_exactly_once(
    tagged_mis: Path, tmp_path: Path
) -> None:
    responses = _responses(tagged_mis, tmp_path / "model_x.jsonl")
    refused = {"hard/2"}
    judge = ScriptedJudge()

    def chat(body: dict[str, Any]) -> ScriptedReply:
        uid = uid_of(body)
        if uid in refused:  # refused once (HTTP 500 in the batch's error file), then answered
            refused.discard(uid)
            return ScriptedReply("scripted overload", status=500)
        return judge(body)

    server = BatchOpenAIServer(chat=chat, model_ids=("judge",), fail_batches=frozenset({1})).start()
    out = tmp_path / "run"
    try:
        # one attempt per request: the rejected batch's samples and the refused line end unknown (transport)
        _judge(
            *_args(
                responses, tagged_mis, server.base_url, out, "--judge-batch", *FAST, "--judge-attempts", "1"
            )
        )
        first = server.batch_bodies()
        rows = {r["uid"]: r for r in read_jsonl(out / "samples.jsonl")}
        in_rejected = {uid_of(b) for b in first[0]}
        lost = {u for u, r in rows.items() if (r.get("judge_error") or "").startswith("transport")}
        assert lost == in_rejected | {"hard/2"}, (lost, in_rejected)
        # the refused line cost only its own sample, not the other lines of its batch
        assert not any(u in lost for b in first[1:] for u in map(uid_of, b) if u != "hard/2")
        assert server.batch_statuses()[0] == "failed"

        _judge(*_args(responses, tagged_mis, server.base_url, out, "--judge-batch", *FAST))  # resume
        resent = [b for batch in server.batch_bodies()[len(first) :] for b in batch]
    finally:
        server.stop()
    assert {uid_of(b) for b in resent} == lost  # only the lost samples are asked again
    assert _outcomes(out) == {uid: outcome for uid, (_, outcome) in JUDGE_SCRIPT.items()}
    assert _metrics(out) == EXPECTED_METRICS


def test_a_client_killed_with_its_batch_in_flight_resumes_exactly_once(
    tagged_mis: Path, tmp_path: Path
) -> None:
    responses = _responses(tagged_mis, tmp_path / "model_x.jsonl")
    server = _batch_server()
    server.hold()
    out = tmp_path / "run"
    args = _args(responses, tagged_mis, server.base_url, out, "--judge-batch", *FAST)
    try:
        proc = subprocess.Popen(
            [MIS_BIN, *args],
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while len(server.batch_bodies()) < 2 and time.monotonic() < deadline:  # two batches in flight
            time.sleep(0.2)
        assert len(server.batch_bodies()) >= 2, "the client never sent its batches"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        held = len(server.batch_bodies())
        assert not (out / "samples.jsonl").exists() or read_jsonl(out / "samples.jsonl") == []
        server.release()  # the provider finishes the orphaned batches (billed, never read)
        result = subprocess.run([MIS_BIN, *args], env=cli_env(), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        rerun = [b for batch in server.batch_bodies()[held:] for b in batch]
    finally:
        server.stop()
    assert {uid_of(b) for b in rerun} == set(JUDGE_SCRIPT)  # nothing was finished, so all are asked again
    assert _outcomes(out) == {uid: outcome for uid, (_, outcome) in JUDGE_SCRIPT.items()}
    assert _metrics(out) == EXPECTED_METRICS


@pytest.mark.parametrize(
    ("judge", "needle"),
    [
        ("openai-api/judge/judge", "use openai/NAME with --judge-base-url"),
        ("exact/mis-label", "exact judge"),
        ("vllm/some/model", "no batch API for provider 'vllm'"),
    ],
)
def test_judge_batch_needs_a_provider_with_a_batch_api(
    tagged_mis: Path, tmp_path: Path, judge: str, needle: str
) -> None:
    responses = _responses(tagged_mis, tmp_path / "model_x.jsonl")
    args = [
        "judge",
        str(responses),
        "--data",
        str(tagged_mis),
        "--judge",
        judge,
        "--judge-batch",
        "--judge-base-url",
        "http://127.0.0.1:9/v1",
        "--out",
        str(tmp_path / "o"),
    ]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code != 0
    assert needle in " ".join(result.output.split()), result.output
