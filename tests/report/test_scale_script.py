"""perf/report_scale.py in a tiny configuration, so the script that measures the report cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report.conftest import chromium_path

pytestmark = [pytest.mark.xdist_group("report"), pytest.mark.slow]
SCRIPT = Path(__file__).resolve().parents[2] / "perf" / "report_scale.py"


def test_report_scale_runs_small(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    args = [sys.executable, str(SCRIPT), "--models", "2", "--samples", "12", "--image-px", "64",
            "--cache", str(tmp_path / "images"), "--work", str(tmp_path / "work"), "--json", str(out),
            "--browser-repeats", "1"]
    try:
        import playwright  # noqa: F401
    except ImportError:
        args.append("--no-browser")
    if chromium_path() is None:
        args.append("--no-browser")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["cold"]["thumbnails"].startswith("thumbnails: 24 made, 0 reused")
    assert result["warm"]["thumbnails"].startswith("thumbnails: 0 made, 24 reused")
    assert result["cold"]["peak_rss_mb"] > 20 and result["warm"]["wall_s"] > 0
    assert result["sizes_mb"]["report.html"] < 1
    if "--no-browser" not in args:
        assert len(result["browser"]["ready_ms"]) == 1 and result["browser"]["ready_ms"][0] < 10_000
        assert result["browser"]["initial_mb"] < 5
    runs = sorted((tmp_path / "work" / "runs").iterdir())
    assert len(runs) == 2 and len((runs[0] / "samples.jsonl").read_text().splitlines()) == 12
