"""The image gate per sample (issue 22): cheap checks before the run, the full decode ahead of each request.

Black-box through `mis eval` against loopback servers whose request logs are the evidence: a corrupt image
found in the middle of a run is never sent, `stop` keeps what finished and a rerun completes it with every
sample counted once, `skip` counts it invalid; `--image-transport file` sends `file://` URLs the server reads
inside its allowed folder, with the same outcomes as base64. One in-process test times the checks against
the requests: no request of a sample arrives before that sample's images passed the full check, and the
checks overlap the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mis.testing import ScriptedOpenAIServer
from tests.reliability.conftest import (
    MODEL_ANSWER,
    eval_args,
    make_tagged,
    one_line_error,
    read_jsonl,
    run_mis,
    scripted_judge,
    uid_of,
    verdict_for,
)

N_HARD = 10
BAD_UID = "hard/6"


def _truncate_pixels(path: Path) -> bytes:
    """Cut a PNG inside its pixel data: the header (cheap checks) is intact, only the decode fails."""
    original = path.read_bytes()
    path.write_bytes(original[: int(len(original) * 0.7)])
    return original


def _image_urls(body: dict[str, Any]) -> list[str]:
    return [part["image_url"]["url"] for m in body.get("messages", []) if isinstance(m.get("content"), list)
            for part in m["content"] if part.get("type") == "image_url"]


def _outcomes(run: Path) -> dict[str, str]:
    return {r["uid"]: r["outcome"] for r in read_jsonl(run / "samples.jsonl")}


def test_a_corrupt_image_found_mid_run_is_never_sent_stop_keeps_the_rest(servers, tmp_path: Path) -> None:
    root = make_tagged(tmp_path / "mis", n_easy=0, n_hard=N_HARD)
    bad = root / "hard_image/6/object2.png"
    original = _truncate_pixels(bad)
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=scripted_judge)
    run = tmp_path / "run"
    done = run_mis(eval_args(root, model, judge, run, "--max-connections", "2"))
    one_line_error(done.stderr)
    assert done.returncode == 3, done.stderr[-2000:]  # a data error, resumable
    assert BAD_UID in done.stderr and "object2.png" in done.stderr and "rerun" in done.stderr
    for server in (model, judge):
        assert BAD_UID not in {uid_of(b) for b in server.chat_requests()}
        assert not server.saw(bad.read_bytes())
    assert not (run / "results.json").exists()
    first = {json.loads(line)["uid"] for line in (run / "checkpoint.jsonl").read_text().splitlines()}
    assert BAD_UID not in first

    bad.write_bytes(original)  # fixed: the rerun decodes it again (its size and mtime changed)
    sent_before = len(model.chat_requests())
    again = run_mis(eval_args(root, model, judge, run, "--max-connections", "2"))
    assert again.returncode == 0, again.stderr[-2000:]
    rerun_uids = [uid_of(b) for b in model.chat_requests()[sent_before:]]
    assert not set(rerun_uids) & first, "a sample finished in the first run was generated again"
    outcomes = _outcomes(run)
    assert len(outcomes) == N_HARD and json.loads((run / "results.json").read_text())["n"] == N_HARD
    assert outcomes == {f"hard/{i}": verdict_for(f"hard/{i}")[1] for i in range(1, N_HARD + 1)}


def test_skip_counts_a_corrupt_image_found_mid_run_as_invalid(servers, tmp_path: Path) -> None:
    root = make_tagged(tmp_path / "mis", n_easy=0, n_hard=N_HARD)
    bad = root / "hard_image/6/object2.png"
    _truncate_pixels(bad)
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=scripted_judge)
    run = tmp_path / "run"
    done = run_mis(eval_args(root, model, judge, run, "--invalid-images", "skip"))
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((run / "results.json").read_text())
    rows = {r["uid"]: r for r in read_jsonl(run / "samples.jsonl")}
    assert results["n"] == N_HARD - 1 and results["invalid"] == 1
    assert rows[BAD_UID]["outcome"] == "invalid" and "object2.png" in rows[BAD_UID]["judge_error"]
    for server in (model, judge):
        assert BAD_UID not in {uid_of(b) for b in server.chat_requests()}
        assert not server.saw(bad.read_bytes())
    again = run_mis(eval_args(root, model, judge, run, "--invalid-images", "skip"))  # stable on a rerun
    assert again.returncode == 0, again.stderr[-2000:]
    assert _outcomes(run) == {uid: r["outcome"] for uid, r in rows.items()}


def test_cold_and_warm_gate_give_the_same_outcomes_and_metrics(servers, tmp_path: Path) -> None:
    root = make_tagged(tmp_path / "mis", n_easy=3, n_hard=5)
    model = servers(chat=lambda body: MODEL_ANSWER)
    judge = servers(chat=scripted_judge)
    cache = tmp_path / "gate-cache"
    runs = []
    for name in ("cold", "warm"):  # the second run finds every verdict in the cache: nothing left to decode
        done = run_mis(eval_args(root, model, judge, tmp_path / name), MIS_CACHE_DIR=str(cache))
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(tmp_path / name)
    cold, warm = (json.loads((r / "results.json").read_text()) for r in runs)
    assert cold["metrics"] == warm["metrics"] and cold["by_category"] == warm["by_category"]
    assert _outcomes(runs[0]) == _outcomes(runs[1])
    hashes = [{r["uid"]: r["image_sha256"] for r in read_jsonl(run / "samples.jsonl")} for run in runs]
    assert hashes[0] == hashes[1]
    expected = {uid: [hashlib.sha256((root / p).read_bytes()).hexdigest() for p in paths] for uid, paths in
                _paths(root).items()}
    assert hashes[0] == expected


def _paths(root: Path) -> dict[str, list[str]]:
    out = {}
    for split in ("easy", "hard"):
        file = root / f"mis_{split}.json"
        for r in json.loads(file.read_text()) if file.exists() else []:
            out[f"{split}/{r['id']}"] = [r["image_path1"], r["image_path2"]]
    return out


def test_image_transport_file_sends_file_urls_the_server_reads_same_outcomes(servers, tmp_path: Path) -> None:
    root = make_tagged(tmp_path / "mis", n_easy=2, n_hard=3)
    judge = servers(chat=scripted_judge)
    by_value = servers(chat=lambda body: MODEL_ANSWER)
    done = run_mis(eval_args(root, by_value, judge, tmp_path / "base64"))
    assert done.returncode == 0, done.stderr[-2000:]
    by_file = servers(chat=lambda body: MODEL_ANSWER, allowed_local_media_path=root)
    judged_before = len(judge.chat_requests())
    done = run_mis(eval_args(root, by_file, judge, tmp_path / "file", "--image-transport", "file",
                             "--no-judge-cache"))  # the judge is asked again, so its requests can be checked
    assert done.returncode == 0, done.stderr[-2000:]
    assert _outcomes(tmp_path / "file") == _outcomes(tmp_path / "base64")
    paths = _paths(root)
    for body in by_file.chat_requests():  # the model's requests: file URLs only, no image bytes
        urls = _image_urls(body)
        expected = [(root / p).resolve().as_uri() for p in paths[str(uid_of(body))]]
        assert urls == expected
        assert b";base64," not in json.dumps(body).encode()
    read = {path: sha for path, sha in by_file.local_media}
    assert read == {str((root / p).resolve()): hashlib.sha256((root / p).read_bytes()).hexdigest()
                    for ps in paths.values() for p in ps}
    assert len(judge.chat_requests()) - judged_before == 5
    for body in judge.chat_requests()[judged_before:]:  # the judge still gets the bytes, inline
        images = [base64.b64decode(u.split(",", 1)[1]) for u in _image_urls(body)]
        assert images == [(root / p).read_bytes() for p in paths[str(uid_of(body))]]


def test_image_transport_file_outside_the_servers_folder_is_refused_by_it(servers, tmp_path: Path) -> None:
    root = make_tagged(tmp_path / "mis", n_easy=1, n_hard=0)
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    model = servers(chat=lambda body: MODEL_ANSWER, allowed_local_media_path=elsewhere)
    judge = servers(chat=scripted_judge)
    done = run_mis(eval_args(root, model, judge, tmp_path / "run", "--image-transport", "file",
                             "--retries", "0"))
    one_line_error(done.stderr)
    assert done.returncode == 4, done.stderr[-2000:]
    assert "allowed-local-media-path" in done.stderr, done.stderr
    assert not model.local_media  # the server read nothing outside its folder


def test_image_transport_file_is_refused_for_an_in_process_model(tmp_path: Path) -> None:
    done = run_mis(["eval", "--data", str(tmp_path), "--model", "hfvlm/some/checkpoint", "--image-transport",
                    "file", "--judge", "openai-api/judge/j", "--judge-base-url", "http://127.0.0.1:9/v1",
                    "--out", str(tmp_path / "run")])
    assert done.returncode == 2 and "--image-transport file" in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_no_request_before_its_samples_full_check_and_checks_overlap_the_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mis.cli import app
    from mis.data._gate import ImageGate

    root = make_tagged(tmp_path / "mis", n_easy=0, n_hard=8)
    checked: dict[str, float] = {}
    arrived: list[tuple[str, float]] = []
    lock = threading.Lock()
    first_request = threading.Event()
    real_check = ImageGate.check

    def slow_check(self: ImageGate, raw: Any) -> Any:
        result = real_check(self, raw)
        time.sleep(0.05)
        if "hard_image/8/" in str(raw):  # the last sample's images: decoded only once requests are out
            first_request.wait(timeout=60)  # (a gate that checked everything first would stall here)
        with lock:
            checked[str(Path(self.resolve(str(raw))))] = time.monotonic()
        return result

    def model_reply(body: dict[str, Any]) -> str:
        with lock:
            arrived.append((str(uid_of(body)), time.monotonic()))
        first_request.set()
        return MODEL_ANSWER

    monkeypatch.setattr(ImageGate, "check", slow_check)
    monkeypatch.setenv("MIS_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedOpenAIServer(chat=model_reply) as model, ScriptedOpenAIServer(chat=scripted_judge) as judge:
        monkeypatch.setenv("MODEL_API_KEY", "local")
        monkeypatch.setenv("JUDGE_API_KEY", "local")
        result = CliRunner().invoke(app, eval_args(root, model, judge, tmp_path / "run"),  # type: ignore[arg-type]
                                    env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    paths = {uid: [str((root / p).resolve()) for p in ps] for uid, ps in _paths(root).items()}
    assert len(arrived) == 8 and len(checked) == 16
    for uid, at in arrived:
        assert all(checked[p] < at for p in paths[uid]), f"{uid} was sent before its images were checked"
    assert min(at for _, at in arrived) < max(checked.values()), "the decode did not overlap the requests"
