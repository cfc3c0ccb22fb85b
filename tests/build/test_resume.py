"""Crash -> resume -> assert: a build killed mid-stage finishes with no duplicate or missing record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import yaml

from mis.build import config_from_dict, run_build
from mis.build._store import StageStore, read_jsonl

from .conftest import scripted_config, step_of, write_seeds


def _dataset(out):
    rows = {}
    for split in ("train", "easy", "hard"):
        for r in json.loads((out / f"mis_{split}.json").read_text()):
            rows[(split, str(r["id"]))] = (
                r["build_id"],
                r.get("question") or r["conversations"][0]["value"],
                r.get("conversations", [{}, {}])[-1].get("value"),
            )
    return rows


def _steps(server):
    return Counter(
        step_of(
            "\n".join(
                p.get("text", "")
                for m in b["messages"]
                for p in m["content"]
                if isinstance(m["content"], list)
            )
        )
        for b in server.chat_requests()
    )


def test_kill_mid_label_then_resume(tmp_path, scripted_server):
    seeds = write_seeds(tmp_path / "seeds.jsonl", 4)
    # reference: the same build, uninterrupted
    ref_server = scripted_server()
    ref = run_build(config_from_dict(scripted_config(tmp_path, ref_server, seeds, tmp_path / "ref")))
    assert ref.status == "complete"
    ref_calls = _steps(ref_server)

    server = scripted_server(delays={"label": 0.8, "label_judge": 0.1})
    out = tmp_path / "out"
    cfg = scripted_config(tmp_path, server, seeds, out)
    for step in cfg["steps"].values():
        step["concurrency"] = 1
    (tmp_path / "build.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [
        sys.executable,
        "-c",
        "from mis.cli import app; app()",
        "build",
        "run",
        "--config",
        str(tmp_path / "build.yaml"),
        "--out",
        str(out),
    ]
    log = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "SCRIPTED_API_KEY": "test-key"}
    )
    ledger = out / "label" / "ledger.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ledger.exists() and len(ledger.read_text().splitlines()) >= 2:
            break
        assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    assert not (out / "label" / "_SUCCESS.json").exists()  # killed mid-stage
    assert not (out / "manifest.json").exists()
    done_before = len(list(read_jsonl(ledger)))
    assert 2 <= done_before < ref.stages["label"]["in"]

    resumed = run_build(config_from_dict(cfg))
    assert resumed.status == "complete"
    assert _dataset(out) == _dataset(tmp_path / "ref")  # nothing missing, nothing doubled, same content
    for stage in ("extract", "refine", "render", "split", "review", "label"):
        store = StageStore(out, stage)
        srcs = [row["src"] for row in read_jsonl(store.ledger_path)]
        assert len(srcs) == len(set(srcs)), f"{stage}: an input was committed twice"
        assert len(store.records()) == ref.stages[stage]["out"]
    # finished work was not asked again: at most the one in-flight label request is repeated
    calls = _steps(server)
    for step in ("extract", "refine", "critic", "text_safety", "image_harm"):
        assert calls[step] == ref_calls[step], step
    assert ref_calls["label"] <= calls["label"] <= ref_calls["label"] + 1
