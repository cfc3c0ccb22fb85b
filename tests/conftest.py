"""Shared pytest set-up. Fixture modules live in tests/fixtures/ and are loaded as plugins."""

import os

# No test may touch the network: the hub is unreachable here and in CI.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("INSPECT_DISPLAY", "none")

pytest_plugins = ["tests.fixtures.models", "tests.fixtures.data"]
