"""Shared pytest set-up. Fixture modules live in tests/fixtures/ and are loaded as plugins."""

import os

# No test may touch the network: the hub is unreachable here and in CI.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("INSPECT_DISPLAY", "none")
# mis's own cache (drawn images, the image gate's verdicts) stays out of the user's ~/.cache: one folder per
# test session, shared by the xdist workers and the commands the tests start
if "MIS_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["MIS_CACHE_DIR"] = tempfile.mkdtemp(prefix="mis-test-cache-")
    atexit.register(shutil.rmtree, os.environ["MIS_CACHE_DIR"], ignore_errors=True)  # the creator cleans up

pytest_plugins = ["tests.fixtures.models", "tests.fixtures.data"]
