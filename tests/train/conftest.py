"""Local helpers for training tests: tiny labelled datasets and one in-process training call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.data import make_mis_train_dir


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    """`mis_train.json` with 4 labelled two-image samples (tiny PNGs)."""
    return make_mis_train_dir(tmp_path / "mis_train", n=4)


def run_train(model: Path, data: Path, out: Path, **overrides: Any) -> tuple[Path, list[float]]:
    """Train in-process with the tiny-cpu recipe; return OUT and the logged losses (one per step)."""
    from mis.train import resolve_config, train

    config = resolve_config("tiny-cpu", model=str(model), data=str(data), out=str(out), **overrides)
    result = train(config)
    history = json.loads((result / "train_log.json").read_text())["log_history"]
    return result, [h["loss"] for h in history if "loss" in h]
