"""Local fixtures: a private mis cache (regenerated/extracted images) for every benchmark test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def bench_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point MIS_CACHE_DIR at a temporary folder so tests never write to ~/.cache."""
    old = os.environ.get("MIS_CACHE_DIR")
    os.environ["MIS_CACHE_DIR"] = str(tmp_path_factory.mktemp("mis-cache"))
    yield
    if old is None:
        os.environ.pop("MIS_CACHE_DIR", None)
    else:
        os.environ["MIS_CACHE_DIR"] = old
