"""A very small `mis demo` through the real CLI: every stage runs and reports; reruns reuse exactly what
their options leave unchanged, keep the recorded timings, and `--seed 1` gives seed-1 numbers."""

import json

import pytest
from typer.testing import CliRunner

STAGES = ["build", "tiny_model", "refusal_data", "train_general", "train_mirage", "train_refusal",
          "eval_base", "eval_mirage", "eval_refusal", "report"]


def _demo(out, *extra):
    from mis.cli import app

    args = ["demo", "--out", str(out), "--n-train", "16", "--n-general", "16", "--n-eval", "6",
            "--general-steps", "2", "--train-steps", "2", "--batch-size", "4", "--threads", "1", *extra]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "demo_results.json").read_text())


def _data(out):
    return (out / "data" / "mis_mini" / "mis_easy.json").read_text()


def _fingerprint(out):
    return json.loads((out / "runs" / "base" / "results.json").read_text())["data_fingerprint"]


@pytest.mark.slow
def test_demo_runs_every_stage_then_reruns_only_what_changed(tmp_path):
    out = tmp_path / "demo"
    output, results = _demo(out)
    assert "MIS-mini (seed 0)" in output and "mirage" in output and "RSR" in output
    for stage in STAGES:  # each stage says what it does and how long it took
        assert f"> {stage}: " in output and f"done {stage} in " in output, stage
    assert "train_general" in output and "2/2 steps" in output  # the training bar
    assert results["cached"] == [] and set(results["timings_s"]) == {*STAGES, "total"}
    assert set(results["models"]) == {"base", "mirage", "refusal"}
    for name, per in results["models"].items():
        assert set(per) == {"easy", "hard", "benign", "white"}
        for m in per.values():
            assert m["n"] == 6
            assert abs(m["asr"] + m["hr"] + m["rsr"] + m["rr"] + m["unknown"] - 100) < 1e-6
            assert m["unknown"] == 0  # the exact judge always has ground truth here
        run = out / "runs" / name
        rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
        assert len(rows) == 24 and all(r["judge"] for r in rows)
    assert (out / "report" / "report.html").is_file() and (out / "report" / "leaderboard.md").is_file()
    seed0_data, seed0_fingerprint = _data(out), _fingerprint(out)

    # more fine-tuning steps: build, tiny model, refusal labels, the general stage and the base model's
    # evaluation are reused, with the wall time recorded when they ran; the two fine-tunes, their
    # evaluations and the report run again
    output, steps3 = _demo(out, "--train-steps", "3")
    reused = ["build", "tiny_model", "refusal_data", "train_general", "eval_base"]
    assert steps3["cached"] == reused
    assert {s: steps3["timings_s"][s] for s in reused} == {s: results["timings_s"][s] for s in reused}
    assert steps3["timings_s"]["build"] > 0 and steps3["timings_s"]["train_general"] > 0
    assert "- train_general: reused" in output and "done train_mirage in " in output
    history = json.loads((out / "models" / "mirage" / "train_log.json").read_text())["metrics"]
    assert history["global_step"] == 3
    assert steps3["stage_keys"]["train_general"] == results["stage_keys"]["train_general"]
    assert steps3["stage_keys"]["eval_mirage"] != results["stage_keys"]["eval_mirage"]

    # the same command again: everything reused, nothing recorded as zero
    _, again = _demo(out, "--train-steps", "3")
    assert again["cached"] == STAGES and again["models"] == steps3["models"]
    assert {s: again["timings_s"][s] for s in STAGES} == {s: steps3["timings_s"][s] for s in STAGES}

    # another seed changes the world draw, the model init and the data order: every stage runs again
    output, seed1 = _demo(out, "--seed", "1")
    assert "MIS-mini (seed 1)" in output and seed1["cached"] == [] and seed1["config"]["seed"] == 1
    assert _data(out) != seed0_data
    from mis.mini import MiniConfig, plan

    draw = plan(MiniConfig(seed=1, n_train=16, n_eval=6, n_general=16))["easy"]
    planned = {(it.first, it.second) for it in draw}
    built = {tuple(row["objects"]) for row in json.loads(_data(out))}
    assert built == planned  # the data evaluated now is seed 1's draw
    assert _fingerprint(out) != seed0_fingerprint  # and the evaluations ran on it
    assert seed1["stage_keys"]["eval_base"] != results["stage_keys"]["eval_base"]


def test_thread_governor_follows_other_work_and_respects_a_fixed_count():
    """Real busy processes on every core: the governor drops torch to one thread within a check."""
    import os
    import subprocess
    import sys
    import time

    import torch

    from mis.mini._stages import ThreadGovernor, choose_threads

    before = torch.get_num_threads()
    try:
        fixed = ThreadGovernor(requested=3)
        assert fixed.start() == 3 and choose_threads(3) == 3
        fixed.check()
        assert fixed.used == [3] and torch.get_num_threads() == 3

        governor = ThreadGovernor(every_s=0.5)
        governor.start()
        hog = [sys.executable, "-c", "while True: pass"]
        hogs = [subprocess.Popen(hog) for _ in range(os.cpu_count() or 1)]
        try:
            time.sleep(1.0)
            governor.check()
            assert governor.used[-1] == 1 and torch.get_num_threads() == 1
            assert choose_threads() == 1  # the stage-start measurement sees them too
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
    finally:
        torch.set_num_threads(before)
