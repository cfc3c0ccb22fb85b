"""Headless Chromium for the report's browser tests (Debian's `chromium`, driven by Playwright).

Playwright's own browser download is not used: the system browser is. Without it (or without the
playwright package) the browser tests are skipped with a message naming what to install.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_INSTALL = ("headless Chromium is needed for the report's browser tests: install Debian's `chromium` "
            "package (apt-get install -y chromium) and the dev extra (pip install -e '.[dev]', which brings "
            "playwright)")


def chromium_path() -> str | None:
    """The system Chromium, if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A persistent headless Chromium context with a fresh profile; pages come from ``new_page()``.

    Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open, so it
    must be closed before the worker runs tests that start their own loop (``asyncio.run``).
    """
    path = chromium_path()
    if path is None:
        pytest.skip(_INSTALL)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(_INSTALL)
    profile = tempfile.mkdtemp(prefix="mis-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)
