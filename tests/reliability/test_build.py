"""`mis build run` (offline generator + a served refine step) survives every fault kind and kill -9.

"Survives" means: rerunning the same command (as docs/build.md says to after an ``incomplete`` run)
ends ``complete`` with exactly the reference dataset (byte-identical files, every input committed
once); a reply that is delivered but unusable (a refusal, an empty answer, a quoting model) drops its
record with a recorded reason instead of losing or duplicating it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from mis.build._store import StageStore, read_jsonl
from mis.testing import Fault, Rule, every, requests
from tests.build.conftest import scripted_reply, write_seeds
from tests.reliability.conftest import MIS_BIN, cli_env, one_line_error, run_mis

pytestmark = pytest.mark.slow
STAGES = ("extract", "refine", "render", "split", "review", "label")


def _config(tmp: Path, server, name: str, timeout: int = 4, concurrency: int = 2) -> Path:
    """Offline text/vision/t2i backends; the refine step is served by ``server``."""
    cfg = {
        "text_model": "offline", "vision_model": "offline", "questions_per_seed": 2, "durable": True,
        "t2i": {"backend": "offline", "width": 64, "height": 64},
        "steps": {"refine": {"model": "openai-api/scripted/scripted", "base_url": server.base_url,
                             "api_key_env": "SCRIPTED_API_KEY", "max_retries": 2, "timeout": timeout,
                             "concurrency": concurrency}},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _build(config: Path, seeds: Path, out: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run_mis(["build", "run", "--config", str(config), "--seeds", str(seeds), "--out", str(out)],
                   timeout=timeout)


def _dataset(out: Path) -> dict[str, str]:
    """sha256 of every file of the dataset proper (the MIS layout `mis data` reads)."""
    files = [p for p in out.glob("mis_*.json")] + [p for p in out.glob("*_image/**/*") if p.is_file()]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files)}


def _committed_once(out: Path) -> None:
    for stage in STAGES:
        srcs = [row["src"] for row in read_jsonl(StageStore(out, stage).ledger_path)]
        assert len(srcs) == len(set(srcs)), f"{stage}: an input was committed twice"


@pytest.fixture
def reference(tmp_path: Path, servers) -> tuple[Path, dict[str, str], Path]:
    seeds = write_seeds(tmp_path / "seeds.jsonl", 6)
    server = servers(chat=scripted_reply)
    out = tmp_path / "reference"
    done = _build(_config(tmp_path, server, "reference"), seeds, out)
    assert done.returncode == 0, done.stderr[-2000:]
    return seeds, _dataset(out), out


def test_every_transport_fault_is_survived_with_nothing_lost_or_doubled(tmp_path: Path, servers,
                                                                        reference) -> None:
    seeds, expected, _ = reference
    faults = [Rule(Fault.EMPTY_BODY, requests(1)), Rule(Fault.MALFORMED_JSON, requests(3)),
              Rule(Fault.TRUNCATED, requests(5)), Rule(Fault.RESET, requests(7)),
              Rule(Fault.HTTP_500, requests(9, 10)), Rule(Fault.HTTP_429, requests(12, 13)),
              Rule(Fault.HANG, requests(15)), Rule(Fault.SLOW, requests(17), delay_s=1.0)]
    server = servers(chat=scripted_reply, faults=faults)
    config, out = _config(tmp_path, server, "faulty"), tmp_path / "out"
    runs = []
    for _ in range(4):  # the documented way on: rerun the same command until complete
        done = _build(config, seeds, out)
        one_line_error(done.stderr)
        runs.append(done.returncode)
        if done.returncode == 0:
            break
    assert runs[-1] == 0, f"still incomplete after {len(runs)} runs: {done.stdout[-1500:]}"
    assert set(server.applied.values()) == {f.fault.value for f in faults}  # every kind happened
    assert _dataset(out) == expected  # nothing lost, nothing doubled, byte for byte
    _committed_once(out)


def test_unusable_replies_are_dropped_with_a_reason(tmp_path: Path, servers, reference) -> None:
    seeds, _, ref_out = reference
    faults = [Rule(Fault.REFUSE, requests(2)), Rule(Fault.EMPTY_CONTENT, requests(4)),
              Rule(Fault.QUOTE, requests(6))]
    server = servers(chat=scripted_reply, faults=faults)
    out = tmp_path / "out"
    done = _build(_config(tmp_path, server, "content"), seeds, out)
    one_line_error(done.stderr)
    assert done.returncode == 0, done.stdout[-1500:]
    refine = StageStore(out, "refine")
    dropped = refine.dropped()
    assert len(dropped) == 3 and all(d.get("reason") for d in dropped)
    kept = {r["id"] for r in refine.records()}
    assert kept | {d["id"] for d in dropped} == {r["id"] for r in StageStore(ref_out, "refine").records()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"]["refine"]["dropped"] == 3
    _committed_once(out)


def test_kill_9_at_several_moments_then_resume_gives_the_same_dataset(tmp_path: Path, servers,
                                                                      reference) -> None:
    seeds, expected, _ = reference
    # one refine reply in three is slow, so each kill lands with work in flight
    server = servers(chat=scripted_reply, faults=[Rule(Fault.SLOW, every(3), delay_s=1.5)])
    config, out = _config(tmp_path, server, "killed", timeout=30, concurrency=1), tmp_path / "out"
    args = [MIS_BIN, "build", "run", "--config", str(config), "--seeds", str(seeds), "--out", str(out)]
    kills = 0
    for wait_for in (lambda: len(server.chat_requests()) >= 2, lambda: len(server.chat_requests()) >= 6,
                     lambda: (out / "render" / "ledger.jsonl").exists()):
        proc = subprocess.Popen(args, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        deadline = time.monotonic() + 240
        while not wait_for() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "the build finished before it could be killed"
    assert not (out / "manifest.json").exists() or kills < 3
    done = _build(config, seeds, out)
    assert done.returncode == 0, done.stdout[-1500:]
    assert _dataset(out) == expected
    _committed_once(out)
    asked = Counter(b["messages"][-1]["content"][-1]["text"] if isinstance(b["messages"][-1]["content"], list)
                    else b["messages"][-1]["content"] for b in server.chat_requests())
    assert max(asked.values()) <= 1 + kills  # an answered request is never asked again, only in-flight ones
