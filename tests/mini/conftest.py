"""Fixtures of MIS-mini tests: the calibrated tiny Idefics3 and a small built MIS-mini set."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_mini_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mis.mini import load_world
    from mis.mini._demo import tiny_size
    from mis.models.tiny import make_tiny_model

    out = tmp_path_factory.mktemp("mini-model") / "idefics3"
    return make_tiny_model(out, "idefics3", seed=0, size=tiny_size(), corpus=load_world().corpus())


@pytest.fixture(scope="session")
def mini_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from mis.mini import MiniConfig, build_mini

    out = tmp_path_factory.mktemp("mini-build")
    return build_mini(MiniConfig(seed=0, n_train=12, n_eval=6, n_general=8), out, durable=False)
