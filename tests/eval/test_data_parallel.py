"""Data-parallel `mis eval` on CPU: 2 gloo ranks under torchrun equal 1 process; kill -9 a rank, resume at
another world size, every sample counted once (mis.eval._distributed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mis.testing import ScriptedOpenAIServer
from tests.eval.conftest import (
    JUDGE_SCRIPT,
    ScriptedJudge,
    cli_env,
    eval_args,
    make_tagged_mis,
    read_jsonl,
    run_cli,
    uid_of,
)

pytestmark = pytest.mark.slow

EASY = [u for u in JUDGE_SCRIPT if u.startswith("easy/")]
#: One request at a time per rank and one torch thread per process, in every run: the same numerics
#: whatever the world size (batch composition and thread count could otherwise flip a tiny model's argmax).
SAME_NUMERICS = ("--batch-size", "1")


def _env() -> dict[str, str]:
    return cli_env(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _launch(n: int, args: list[str]) -> list[str]:
    """The documented torchrun command (``--standalone``: a free port, so parallel tests never clash)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n),
            "-m", "mis", *args]


def _torchrun(n: int, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_launch(n, args), capture_output=True, text=True, env=_env(), timeout=300)


def _outcomes(out: Path) -> dict[str, tuple[Any, ...]]:
    rows = read_jsonl(out / "samples.jsonl")
    assert len(rows) == len({r["uid"] for r in rows}), "a sample appears twice"
    return {r["uid"]: (r["label"], r["outcome"], r["response"], r["image_sha256"]) for r in rows}


def _uids(path: Path) -> list[str]:
    if not path.is_file():
        return []
    uids = []
    for line in path.read_text().splitlines():
        try:
            uids.append(json.loads(line)["uid"])
        except json.JSONDecodeError:  # a line being written right now
            continue
    return uids


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, tiny_model_path) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("dp")
    judge = ScriptedOpenAIServer(chat=ScriptedJudge(), model_ids=("judge",)).start()
    data, model = make_tagged_mis(root / "mis_test"), tiny_model_path("qwen2_vl")
    baseline = root / "one"
    proc = subprocess.run([sys.executable, "-m", "mis", *eval_args(data, model, judge.base_url, baseline,
                                                                    *SAME_NUMERICS)],
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield {"root": root, "data": data, "model": model, "judge": judge, "baseline": baseline}
    judge.stop()


def _same_results(out: Path, baseline: Path) -> None:
    got, want = (json.loads((d / "results.json").read_text()) for d in (out, baseline))
    for key in ("n", "unknown", "invalid", "metrics", "by_category", "splits", "headline", "run_key"):
        assert got[key] == want[key], key
    assert _outcomes(out) == _outcomes(baseline)


def test_two_ranks_equal_one_process(setup: dict[str, Any], tmp_path: Path) -> None:
    judge = ScriptedOpenAIServer(chat=ScriptedJudge(), model_ids=("judge",)).start()
    try:
        out = tmp_path / "two"
        proc = _torchrun(2, eval_args(setup["data"], setup["model"], judge.base_url, out, *SAME_NUMERICS))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        judged = [uid_of(b) for b in judge.chat_requests()]
    finally:
        judge.stop()
    _same_results(out, setup["baseline"])
    # each rank appended its own share (round robin over the samples), nobody wrote the plain files
    shares = [sorted(_uids(out / f"checkpoint.rank-{k}.jsonl")) for k in (0, 1)]
    assert shares == [sorted(list(JUDGE_SCRIPT)[0::2]), sorted(list(JUDGE_SCRIPT)[1::2])]
    assert not (out / "checkpoint.jsonl").exists() and not (out / "generations.jsonl").exists()
    generated = _uids(out / "generations.rank-0.jsonl") + _uids(out / "generations.rank-1.jsonl")
    assert sorted(generated) == sorted(JUDGE_SCRIPT)
    # each sample judged exactly its scripted attempts, by one rank
    assert sorted(judged) == sorted(u for u, (replies, _) in JUDGE_SCRIPT.items() for _ in replies)
    run = json.loads((out / "run.json").read_text())
    assert run["key"] == json.loads((setup["baseline"] / "run.json").read_text())["key"]  # world size: no
    assert len(run["logs"]) == 2 and run["model_settings"]["generate_kwargs"]  # one inspect log per rank
    assert proc.stdout.count(f"mis: {out / 'results.json'}") == 1  # the final table once, from rank 0


def _rank_pids(launcher: int) -> dict[int, int]:
    """The worker processes torchrun started, by their RANK."""
    found = {}
    for child in Path(f"/proc/{launcher}/task").glob("*/children"):
        for pid in child.read_text().split():
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            for item in env:
                if item.startswith(b"RANK="):
                    found[int(item[5:])] = int(pid)
    return found


def test_kill_one_rank_then_resume_with_another_world_size(setup: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "killed"
    # the easy samples are judged at once, the others stall: each rank checkpoints two, then waits
    slow = ScriptedOpenAIServer(chat=ScriptedJudge({u: 120.0 for u in JUDGE_SCRIPT if u not in EASY}),
                                model_ids=("judge",)).start()
    proc = subprocess.Popen(_launch(2, eval_args(setup["data"], setup["model"], slow.base_url, out,
                                                 *SAME_NUMERICS)),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        shards = [out / "checkpoint.rank-0.jsonl", out / "checkpoint.rank-1.jsonl"]
        while sorted(_uids(shards[0]) + _uids(shards[1])) != sorted(EASY) or len(
                {uid_of(b) for b in slow.chat_requests()} - set(EASY)) < 2:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the easy samples were never checkpointed"
            time.sleep(0.2)
        ranks = _rank_pids(proc.pid)
        assert sorted(ranks) == [0, 1], ranks
        os.kill(ranks[1], signal.SIGKILL)  # one rank dies mid-run; torchrun stops the other
        assert proc.wait(timeout=90) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        slow.stop()
    assert not (out / "results.json").exists()
    assert sorted(_uids(shards[0]) + _uids(shards[1])) == sorted(EASY)

    # resumed by ONE plain process (no launcher): the same run, only the missing samples run
    fresh = ScriptedOpenAIServer(chat=ScriptedJudge(), model_ids=("judge",)).start()
    try:
        done = run_cli(eval_args(setup["data"], setup["model"], fresh.base_url, out, *SAME_NUMERICS),
                       env=_env())
        assert done.returncode == 0, done.stdout + done.stderr
        rejudged = {uid_of(b) for b in fresh.chat_requests()}
    finally:
        fresh.stop()
    assert rejudged == set(JUDGE_SCRIPT) - set(EASY)  # what ranks finished is never judged again
    assert sorted(_uids(out / "checkpoint.jsonl")) == sorted(rejudged)
    _same_results(out, setup["baseline"])
