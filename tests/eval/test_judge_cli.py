"""`mis judge` on responses in the authors' JSONL format (paths relative to the MIS test root)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mis.cli import app
from tests.eval.conftest import EXPECTED_METRICS, JUDGE_SCRIPT, read_jsonl

pytestmark = pytest.mark.slow


def _authors_responses(root: Path, path: Path) -> Path:
    lines = []
    for split in ("easy", "hard", "real"):
        for rec in json.loads((root / f"mis_{split}.json").read_text()):
            rec = dict(rec, response=f"The first image shows a square and the second a circle ({split}).")
            lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mis_judge_authors_format(tagged_mis: Path, judge_server, tmp_path: Path) -> None:
    server = judge_server()
    responses = _authors_responses(tagged_mis, tmp_path / "qwen2_vl_7b.jsonl")
    out = tmp_path / "judged"
    args = [
        "judge",
        str(responses),
        "--data",
        str(tagged_mis),
        "--judge",
        "openai-api/judge/judge",
        "--judge-base-url",
        server.base_url,
        "--out",
        str(out),
    ]
    proc = CliRunner().invoke(app, args)  # in-process: the subprocess path is covered by test_eval_cli
    # 25% unknown > the default --fail-on-unknown of 2%: results are written, then exit code 5
    assert proc.exit_code == 5, proc.output
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "qwen2_vl_7b" and results["task"] == "mis"
    assert results["metrics"] == EXPECTED_METRICS and results["unknown"] == 2
    rows = read_jsonl(out / "samples.jsonl")
    assert {r["uid"]: r["outcome"] for r in rows} == {u: o for u, (_, o) in JUDGE_SCRIPT.items()}
    assert rows[0]["response"].startswith("The first image shows a square")
    assert rows[0]["images"][0] == str((tagged_mis / "easy_image/1/object1.png").resolve())
    for row in rows:  # each image referenced by path and sha256 (the gate's, from the bytes it checked)
        assert row["image_sha256"] == [
            hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in row["images"]
        ], row["uid"]


def test_mis_judge_keeps_every_judge_connection_busy(tmp_path: Path) -> None:
    """No model under test: one sample in flight per --judge-max-connections, not inspect's default of 10
    (which its adaptive limiter sometimes grows past and sometimes does not: a busy suite saw 10)."""
    import threading
    import time

    from mis.testing import ScriptedOpenAIServer
    from tests.fixtures.data import make_mis_test_dir

    root = make_mis_test_dir(tmp_path / "data", n_easy=8, n_hard=8, n_real=8)
    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow_judge(body: dict) -> str:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.5)
        with lock:
            state["now"] -= 1
        return json.dumps({"label_perception": "Level 1", "label_str": "Safe"})

    with ScriptedOpenAIServer(chat=slow_judge, model_ids=("judge",)) as server:
        responses = _authors_responses(root, tmp_path / "model.jsonl")
        args = ["judge", str(responses), "--data", str(root), "--judge", "openai-api/judge/judge",
                "--judge-base-url", server.base_url, "--judge-max-connections", "16",
                "--out", str(tmp_path / "o")]
        proc = CliRunner().invoke(app, args)
    assert proc.exit_code == 0, proc.output
    assert json.loads((tmp_path / "o" / "results.json").read_text())["n"] == 24
    assert state["most"] > 10, state  # inspect's default of 10 samples at once would cap it at 10
