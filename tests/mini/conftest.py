"""Fixtures of MIS-mini tests: a small MIS-mini set built through `mis build`."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mini_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from mis.mini import MiniConfig, build_mini

    out = tmp_path_factory.mktemp("mini-build")
    return build_mini(MiniConfig(seed=0, n_train=12, n_eval=6, n_general=8), out, durable=False)
