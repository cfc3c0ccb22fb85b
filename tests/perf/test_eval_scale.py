"""perf/eval_scale.py cannot rot: a tiny end-to-end run parses, and its checks catch wrong runs."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[2] / "perf"
sys.path.insert(0, str(PERF))

import _scale_data  # noqa: E402
import _scale_server  # noqa: E402
import eval_scale  # noqa: E402


@pytest.mark.slow
def test_tiny_run_prints_checked_numbers(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(PERF / "eval_scale.py"), "--n", "4", "--image-px", "64", "--latency", "0",
         "--connections", "4", "--variants", "authors", "mis-eval", "mis-judge",
         "--gate", "warm", "--cache", str(tmp_path / "cache"), "--work", str(tmp_path / "work"),
         "--json", str(report)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(report.read_text())
    cells = {c["variant"]: c for c in data["cells"]}
    assert set(cells) == {"authors", "mis-eval", "mis-judge"}
    for cell in cells.values():
        assert cell["n"] == 4 and cell["measured_n"] == 4 and cell["latency_s"] == 0
        run = cell["runs"][0]
        assert run["wall_s"] > 0 and run["cpu_s"] > 0 and run["peak_rss_mb"] > 10 and run["bytes_written"] > 0
        assert isinstance(run["disk_write_bytes"], int) and run["disk_write_bytes"] >= 0  # 0 on tmpfs
    # the authors' protocol writes two small JSONL files; mis's run folder holds its inspect log too
    assert cells["mis-eval"]["bytes_per_sample"] > cells["authors"]["bytes_per_sample"]
    ratio, _ = [r for r in data["ratios"] if r["kind"] == "wall_vs_authors"]
    assert ratio["variant"] == "mis-eval" and ratio["authors_over_variant"] == pytest.approx(
        cells["authors"]["wall_s"][1] / cells["mis-eval"]["wall_s"][1])
    assert data["server_checks"][0]["requests"] == 8 and data["gate"] == "warm"
    assert "# image gate warmed in" in proc.stdout
    assert "| authors | 4 | 0 s |" in proc.stdout and "| mis-eval | 4 | 0 s |" in proc.stdout
    assert not (tmp_path / "work").exists()  # cleaned up without --keep


@pytest.mark.slow
def test_baseline_variant_runs_another_checkout_and_prints_its_ratio(tmp_path: Path) -> None:
    """base-eval imports mis from --baseline-src (here a copy of src/ with a marker module)."""
    import shutil

    base = tmp_path / "base-src"
    shutil.copytree(PERF.parent / "src", base, ignore=shutil.ignore_patterns("__pycache__"))
    marker = tmp_path / "imported-from-baseline"
    (base / "mis" / "__init__.py").write_text((base / "mis" / "__init__.py").read_text() + "\n"
                                              f"open({str(marker)!r}, 'w').close()\n")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(PERF / "eval_scale.py"), "--n", "4", "--image-px", "64", "--latency", "0",
         "--connections", "4", "--variants", "mis-eval", "base-eval", "--baseline-src", str(base),
         "--cache", str(tmp_path / "cache"), "--work", str(tmp_path / "work"), "--json", str(report)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert marker.exists()  # the baseline run really imported the other checkout
    data = json.loads(report.read_text())
    cells = {c["variant"]: c for c in data["cells"]}
    (ratio,) = [r for r in data["ratios"] if r["kind"] == "vs_baseline"]
    assert ratio["wall"] == pytest.approx(cells["base-eval"]["wall_s"][1] / cells["mis-eval"]["wall_s"][1])
    assert "baseline / this checkout: wall" in proc.stdout


def test_every_file_has_its_own_bytes_but_pool_pixels(tmp_path: Path) -> None:
    from PIL import Image

    store = _scale_data.image_store(tmp_path / "store", tmp_path / "cache", 32, n=3)
    folder = _scale_data.make_set(tmp_path / "set", store, 3)
    files = sorted(folder.glob("hard_image/*/object*.png"))
    assert len(files) == 6
    assert len({hashlib.sha256(f.read_bytes()).hexdigest() for f in files}) == 6
    pool = _scale_data.image_pool(tmp_path / "cache", 32)
    pixels = Image.open(folder / "hard_image/1/object1.png").tobytes()
    assert pixels == Image.open(io.BytesIO(pool[2])).tobytes()
    records = json.loads((folder / "mis_hard.json").read_text())
    assert [r["id"] for r in records] == [1, 2, 3]
    assert all(_scale_server.sample_tag(r["id"]) in r["question"] for r in records)


def test_photo_png_is_photo_sized_at_1024() -> None:
    size = len(_scale_data.photo_png(0, 1024))
    assert 1.0e6 < size < 2.6e6


def test_server_verdicts_give_the_expected_counts() -> None:
    counts = {name: 0 for name in _scale_server.expected_counts([])}
    levels = {"1": "safe_reasoning", "2": "refusal", "3": "hallucination"}
    for sid in range(1, 9):
        question = f"q {_scale_server.sample_tag(sid)}"
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": question}]}
        verdict = json.loads(_scale_server.reply_for(body, 0.0).content)
        unsafe = verdict["label_str"] == "Unsafe"
        counts["attack_success" if unsafe else levels[verdict["label_perception"][-1]]] += 1
    assert counts == _scale_server.expected_counts(list(range(1, 9))) == {
        "attack_success": 2, "safe_reasoning": 2, "refusal": 2, "hallucination": 2}
    assert _scale_server.reply_for({"model": "judge", "messages": []}, 0.0).status == 400


@pytest.mark.parametrize(("model", "properties", "field"), [
    ("judge", {"label_perception": {}, "label_str": {}}, "label_str"),  # mis's `paper` rubric
    ("judge", {"perception": {}, "safety": {}, "explanation": {}}, "safety"),  # mis-v1
    ("judge", None, "safety"),
    ("gpt-4o", None, "label_str"),
])
def test_verdicts_take_the_form_the_request_asks_for(model: str, properties: dict | None, field: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": f"q {_scale_server.sample_tag(5)}"}]}
    if properties is not None:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "x", "schema": {"properties": properties}}}
    verdict = json.loads(_scale_server.reply_for(body, 0.0).content)
    assert field in verdict and verdict[field] == "Safe"  # sample 5: safe with reasoning


def test_a_run_that_did_less_work_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "eval_result").mkdir(parents=True)
    row = {"label_perception": "Perception Level1", "label_str": "Safe"}
    (out / "eval_result" / "model.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(SystemExit, match="verdict counts"):
        eval_scale.check_run("authors", out, [1, 2], tmp_path / "log")
    metrics = {"asr": 50.0, "hr": 0.0, "rsr": 50.0, "rr": 0.0, "unknown": 0.0}
    (out / "results.json").write_text(json.dumps({"n": 2, "metrics": metrics}))
    eval_scale.check_run("mis-eval", out, [4, 5], tmp_path / "log")  # sample 4: unsafe, 5: reasoning
    with pytest.raises(SystemExit, match="metrics off"):
        eval_scale.check_run("mis-eval", out, [1, 2], tmp_path / "log")
