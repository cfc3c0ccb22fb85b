"""Local fixtures for the tiny-model tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def offline() -> None:
    """Fail loudly if the hub were reachable from a test: everything here must work offline."""
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE, "tests must run with HF_HUB_OFFLINE=1 (set in tests/conftest.py)"
