"""perf/gpu_check.sh cannot rot: SMOKE=1 runs it end to end on CPU; its wheel list is constraints.txt's."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PERF = ROOT / "perf"
sys.path.insert(0, str(PERF))

import gpu_wheels  # noqa: E402

MEASUREMENTS = {"prepare", "masking", "train_lora", "train_full", "generate_b1", "generate_b8",
                "generate_b32", "summary"}
NUMBERS = {
    "train": ("steps", "step_s", "first_step_s", "samples_s", "tokens_s", "tflops", "mfu", "peak_gib",
              "loss_first", "loss_last", "lr"),
    "generate": ("batch", "samples_s", "tokens_s", "batch_s", "new_tokens", "prompt_tokens", "peak_gib",
                 "load_s"),
    "masking": ("problems", "rows", "tokens_per_sample", "answer_tokens_per_sample",
                "image_tokens_per_sample"),
}


def parse_results(stdout: str) -> dict[str, dict[str, str]]:
    """`RESULT name=NAME key=value ...` lines by name (a name twice is an error)."""
    results: dict[str, dict[str, str]] = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            values = dict(pair.split("=", 1) for pair in line.split()[1:])
            assert values["name"] not in results, line
            results[values["name"]] = values
    return results


@pytest.mark.slow
def test_smoke_run_prints_every_measurement_without_inspect(tmp_path: Path) -> None:
    # the GPU machine has no inspect_ai: hide it, so a phase that imports it fails here too
    hidden = tmp_path / "hide" / "inspect_ai"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('inspect_ai is not on the GPU machine')\n")
    env = {**os.environ, "SMOKE": "1", "PYTHON": sys.executable, "PYTHONPATH": str(tmp_path / "hide")}
    proc = subprocess.run(["bash", str(PERF / "gpu_check.sh"), str(tmp_path / "work")], env=env,
                          capture_output=True, text=True, timeout=480)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = parse_results(proc.stdout)
    assert set(results) == MEASUREMENTS, proc.stdout[-3000:]  # no `name=phase` failure line either
    assert all(values["ok"] == "1" for values in results.values()), results
    assert all(v["model"] == "qwen2-vl-7b-smoke" for name, v in results.items() if name != "summary")
    for name, values in results.items():
        for key in NUMBERS.get(name.split("_")[0], ()):
            assert math.isfinite(float(values[key])), (name, key, values[key])
    masking = results["masking"]
    assert masking["problems"] == "0" and masking["layout"] == "stock" and masking["rows"] == "16"
    assert float(masking["image_tokens_per_sample"]) == 2 * (112 // 14) ** 2 / 4  # two images, merge 2 x 2
    for mode in ("lora", "full"):
        train = results[f"train_{mode}"]
        assert train["steps"] == "5" and train["finite"] == "1" and train["falling"] == "1"
        assert float(train["loss_last"]) < float(train["loss_first"])
        assert float(train["step_s"]) > 0 and float(train["tokens_s"]) > 0 and 0 < float(train["mfu"]) < 1
    for size in (1, 8, 32):
        generate = results[f"generate_b{size}"]
        assert generate["batch"] == str(size) and generate["new_tokens"] == "32"
        assert float(generate["samples_s"]) > 0 and float(generate["tokens_s"]) > 0
    assert results["summary"]["failed"] == "0"
    assert not (tmp_path / "work" / "out-full").exists()  # the 16 GB full checkpoint is removed on the GPU


def test_wheels_are_the_versions_tested_together() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    wheels = gpu_wheels.requirements()
    assert wheels, "perf/gpu_wheels.txt lists no wheel"
    names = []
    for requirement in wheels:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", requirement), requirement  # exact pins
        name, version = requirement.split("==")
        key = re.sub(r"[-_.]+", "-", name).lower()
        assert pins.get(key) == version, f"{requirement}: constraints.txt has {key}=={pins.get(key)}"
        names.append(key)
    assert len(names) == len(set(names))  # one version of each, or the device's pip install stops
    # what `mis train` needs and the device lacks (torch, accelerate and the rest are there)
    assert {"trl", "datasets", "pydantic", "pydantic-core", "transformers"} <= set(names)
    assert "inspect-ai" not in names  # too large to carry; no phase imports it (the smoke test hides it)


def test_wheel_download_command_is_the_documented_one(tmp_path: Path) -> None:
    command = gpu_wheels.download_command("trl==1.16.0", tmp_path)
    text = " ".join(command[1:])
    assert text.startswith("-m pip download -q --no-deps --only-binary=:all: --python-version 3.12 "
                           "--implementation cp --platform manylinux_2_28_x86_64")
    assert command[-1] == "trl==1.16.0" and str(tmp_path) in command
    header = (PERF / "gpu_check.sh").read_text()
    assert "perf/gpu_wheels.py .whl" in header and "--no-index --no-deps" in header
