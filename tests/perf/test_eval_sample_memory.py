"""perf/eval_sample_memory.py cannot rot: a tiny run against this checkout as its own baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_run_reports_every_step_for_both_trees(tmp_path: Path) -> None:
    report = tmp_path / "memory.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "perf" / "eval_sample_memory.py"), "--n", "12", "--baseline-src",
         str(ROOT / "src"), "--cache", str(tmp_path / "cache"), "--json", str(report)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["n"] == 12 and set(data["bytes_per_sample"]) == {"this checkout", "baseline"}
    for steps in data["bytes_per_sample"].values():
        assert set(steps) == {"samples", "markers", "deep_checks"}
        assert steps["samples"] > 1000  # an inspect sample and a mis sample are each well over 1 KB
    assert "baseline / this checkout:" in proc.stdout and "| **total** |" in proc.stdout
