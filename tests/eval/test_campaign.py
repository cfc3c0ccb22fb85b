"""`mis campaign`: models x benchmarks from one plan, resumable cells, shards and locks, failed cells.

Every model is a served one on the project's loopback OpenAI-compatible server (one server plays the models
and the judge; the request log says which sample each model request was for), except one tiny hfvlm model in
the first test. MIS hard is a 3-sample fixture, MOSSBench a 4-sample fixture in its published layout.
Exactly-once is asserted from the server's request log and the runner's checkpoints, never from timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mis.eval.campaign import CampaignIncomplete, in_shard, load_plan, parse_shard, run_campaign, status
from mis.testing import ScriptedOpenAIServer, ScriptedReply, message_text
from tests.benchmarks import formats as F
from tests.eval.conftest import MIS_BIN, cli_env, read_jsonl
from tests.fixtures.data import make_mis_test_dir

pytestmark = pytest.mark.slow

VERDICT = '{"perception": "Level1", "safety": "Safe", "explanation": "Names both shapes, no risk."}'
N_MIS, N_MOSS = 3, 4
REPO = Path(__file__).resolve().parents[2]


class Served:
    """One scripted server for every model and the judge; ``slow`` models answer after a delay."""

    def __init__(self, slow: dict[str, float] | None = None, broken: tuple[str, ...] = ()) -> None:
        self.slow = dict(slow or {})
        self.broken = broken
        self.server = ScriptedOpenAIServer(chat=self.reply, model_ids=("served",))
        self._lock = threading.Lock()

    def reply(self, body: dict[str, Any]) -> ScriptedReply:
        model = str(body.get("model"))
        if model.startswith("judge"):
            text = message_text(body)
            moss = "Description: a toy\nScore: 0\nReason: it answered"
            return ScriptedReply(moss if "Refusal score" in text else VERDICT)
        if model in self.broken:
            return ScriptedReply("this model rejects every request", status=400)
        return ScriptedReply("A plain, careful answer about the shapes.", delay_s=self.slow.get(model, 0.0))

    def model_requests(self) -> Counter[tuple[str, str]]:
        """(model, question text) -> how many generation requests arrived."""
        out: Counter[tuple[str, str]] = Counter()
        for body in self.server.chat_requests():
            if not str(body.get("model")).startswith("judge"):
                out[(str(body["model"]), message_text(body))] += 1
        return out

    def judge_requests(self) -> int:
        return sum(1 for b in self.server.chat_requests() if str(b.get("model")).startswith("judge"))

    def __enter__(self) -> Served:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def fixtures(root: Path) -> dict[str, str]:
    """MIS (hard: 3) and MOSSBench (4, each question made unique so a request names its sample)."""
    mis = make_mis_test_dir(root / "mis", n_easy=0, n_hard=N_MIS, n_real=0)
    moss = F.mossbench(root / "moss")
    info_path = moss / "data/images_information/information.json"
    info = json.loads(info_path.read_text())
    for pid, rec in info.items():
        rec["question"] = f"{rec['question']} [pid {pid}]"
    info_path.write_text(json.dumps(info))
    return {"mis": str(mis), "mossbench": str(moss)}


def write_plan(path: Path, url: str, models: list[dict[str, Any]], data: dict[str, str], tag: str) -> Path:
    plan = {
        "models": [{"model_base_url": url, **m} for m in models],
        "benchmarks": ["mis_hard", "mossbench"],
        "data": data,
        # the judge cache off: every judged sample is one request, so the request counts prove exactly-once
        # (with it on, the models' identical scripted answers would be judged once for all models)
        "judge": {"judge": f"openai-api/served/judge-{tag}", "judge_base_url": url, "judge_cache": False},
        "options": {"max_tokens": 8, "retries": 0},
    }
    path.write_text(yaml.safe_dump(plan))
    return path


def served(*names: str) -> list[dict[str, Any]]:
    return [{"model": f"openai-api/served/{n}", "name": n} for n in names]


def check_cells_once(out: Path, cells: list[str]) -> None:
    """Every cell's checkpoint holds each sample exactly once and its results.json counts them all."""
    for cell in cells:
        folder = out / cell
        results = folder / "results.json" if cell.endswith("mis_hard") else folder / "mossbench/results.json"
        n = json.loads(results.read_text())["n"]
        rows = read_jsonl(results.parent / "checkpoint.jsonl")
        uids = [r["uid"] for r in rows]
        assert len(uids) == len(set(uids)) == n == (N_MIS if cell.endswith("mis_hard") else N_MOSS), cell


def cell_names(models: list[str]) -> list[str]:
    return [f"{m}/{b}" for m in models for b in ("mis_hard", "mossbench")]


def test_plan_parsing_and_shards(tmp_path: Path) -> None:
    example = load_plan(REPO / "docs/campaign-plan.yaml")  # the documented example loads and resolves
    cells = example.cells(tmp_path / "c")
    assert {c.benchmark_name for c in cells} >= {"mis_easy", "mis_hard", "mis_real", "mossbench"}
    assert len({c.folder for c in cells}) == len(cells) == len(example.models) * len(example.benchmarks)
    for n in (1, 2, 3, 5):  # every cell in exactly one shard, whatever N
        owners = [[k for k in range(1, n + 1) if in_shard(c, (k, n))] for c in cells]
        assert all(len(o) == 1 for o in owners)
    assert parse_shard("2/8") == (2, 8) and parse_shard(None) == (1, 1)
    for bad in ("0/2", "3/2", "2", "a/b"):
        with pytest.raises(Exception, match="--shard"):
            parse_shard(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"models": [{"model": "openai/gpt-4o", "batchsize": 2}],
                                     "benchmarks": ["mis_hard"]}))
    with pytest.raises(Exception, match=r"wrong.yaml: models\[0\]: unknown key\(s\) batchsize"):
        load_plan(wrong)


def test_campaign_runs_every_cell_and_report_reads_it(tmp_path: Path, tiny_model_path: Any) -> None:
    """3 models (2 served, 1 tiny hfvlm) x (MIS hard + MOSSBench) from one command; status and report."""
    from mis.cli import app

    data = fixtures(tmp_path)
    out = tmp_path / "campaign"
    tiny = tiny_model_path("idefics3")
    with Served() as srv:
        models = [*served("c1-a", "c1-b"), {"model": f"hfvlm/{tiny}", "name": "tiny", "batch_size": 4}]
        plan = write_plan(tmp_path / "plan.yaml", srv.server.base_url, models, data, "c1")
        result = CliRunner().invoke(app, ["campaign", "run", str(plan), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert srv.judge_requests() == 3 * (N_MIS + N_MOSS)
        assert all(v == 1 for v in srv.model_requests().values())
        assert len(srv.model_requests()) == 2 * (N_MIS + N_MOSS)
        cells = cell_names(["c1-a", "c1-b", "tiny"])
        check_cells_once(out, cells)
        assert [s.state for s in status(out)] == ["done"] * 6
        again = CliRunner().invoke(app, ["campaign", "run", str(plan), "--out", str(out)])
        assert again.exit_code == 0, again.output
        assert srv.judge_requests() == 3 * (N_MIS + N_MOSS)  # a rerun of a finished campaign sends nothing
    shown = CliRunner().invoke(app, ["campaign", "status", str(out)])
    assert shown.exit_code == 0 and shown.output.count("done") >= 6, shown.output
    report = CliRunner().invoke(app, ["report", str(out), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    rows = (tmp_path / "report/leaderboard.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # one row per model, MIS hard and MOSSBench side by side
    assert "hard_asr" in rows[0] and "mossbench" in rows[0]


def test_failed_cell_is_reported_and_the_others_finish(tmp_path: Path) -> None:
    data = fixtures(tmp_path)
    out = tmp_path / "campaign"
    with Served(broken=("f-bad",)) as srv:
        plan = write_plan(tmp_path / "plan.yaml", srv.server.base_url, served("f-bad", "f-good"), data, "f")
        with pytest.raises(CampaignIncomplete, match="2 of 4 cells did not finish"):
            run_campaign(plan, out)
    states = {s.cell: s for s in status(out)}
    assert states["f-good/mis_hard"].state == states["f-good/mossbench"].state == "done"
    for cell in ("f-bad/mis_hard", "f-bad/mossbench"):
        assert states[cell].state == "failed"
        # the runner's own reason: the provider's error line (not inspect's request dump), what is kept
        reason = states[cell].reason
        assert "Error code: 400" in reason and "rejects every" in reason and "0 of" in reason
        assert "Request:" not in reason and "image_url" not in reason
    check_cells_once(out, cell_names(["f-good"]))
    from mis.cli import app

    shown = CliRunner().invoke(app, ["campaign", "status", str(out)])
    assert "failed" in shown.output and "f-bad/mossbench" in shown.output


def _start(plan: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    env = cli_env(PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]))
    return subprocess.Popen([MIS_BIN, "campaign", "run", str(plan), "--out", str(out), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_killed_campaign_rerun_finishes_only_what_was_missing(tmp_path: Path) -> None:
    data = fixtures(tmp_path)
    out = tmp_path / "campaign"
    with Served(slow={"k-slow": 0.6}) as srv:
        models = served("k-fast", "k-slow", "k-last")
        models[1]["max_connections"] = 1  # one slow sample at a time: the kill lands inside that cell
        plan = write_plan(tmp_path / "plan.yaml", srv.server.base_url, models, data, "k")
        proc = _start(plan, out)
        progress = out / "k-slow/mis_hard/checkpoint.jsonl"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if progress.is_file() and len(read_jsonl(progress)) >= 1:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[0]
        os.killpg(proc.pid, signal.SIGKILL)  # the whole worker, mid-cell
        proc.wait()
        before = srv.model_requests()
        generated = {r["uid"] for r in read_jsonl(out / "k-slow/mis_hard/generations.jsonl")}
        assert [s.state for s in status(out)][:3] == ["done", "done", "stopped"]
        srv.slow.clear()
        run_campaign(plan, out)
        after = srv.model_requests()
    new = after - before
    assert not [k for k in new if k[0] == "k-fast"]  # the cells done before the kill sent nothing
    questions = {r["uid"]: r["question"] for r in read_jsonl(out / "k-slow/mis_hard/samples.jsonl")}
    for uid in generated:  # a sample generated before the kill is never generated again
        assert not [k for k in new if k[0] == "k-slow" and questions[uid] in k[1]], uid
    check_cells_once(out, cell_names(["k-fast", "k-slow", "k-last"]))
    assert [s.state for s in status(out)] == ["done"] * 6


@pytest.mark.parametrize("shards", [("1/2", "2/2"), (None, None)], ids=["sharded", "unsharded"])
def test_two_workers_run_every_cell_exactly_once(tmp_path: Path,
                                                 shards: tuple[str | None, str | None]) -> None:
    data = fixtures(tmp_path)
    out = tmp_path / "campaign"
    names = ["w-a", "w-b", "w-c"]
    with Served(slow=dict.fromkeys(names, 0.05)) as srv:
        tag = "ws" if shards[0] else "wu"
        plan = write_plan(tmp_path / "plan.yaml", srv.server.base_url, served(*names), data, tag)
        procs = [_start(plan, out, *(["--shard", s] if s else [])) for s in shards]
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        requests = srv.model_requests()
        judged = srv.judge_requests()
    assert all(v == 1 for v in requests.values()), requests  # no sample generated twice
    assert Counter(m for m, _ in requests) == dict.fromkeys(names, N_MIS + N_MOSS)
    assert judged == len(names) * (N_MIS + N_MOSS)
    check_cells_once(out, cell_names(names))
    pids = {json.loads((out / c / "cell.json").read_text())["pid"] for c in cell_names(names)}
    if shards[0]:  # each shard ran its own half
        assert len(pids) == 2
    assert pids <= {p.pid for p in procs}
