"""Shared fixtures: the sample councils rendered once per session, and a real headless browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from systemic_lib import config

CHROMIUM_ARGS = ["--lang=en-GB", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright. `make test` installs Chromium; on CI a missing one fails."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: `make browser` installs it (Debian package chromium)")
        pytest.skip("Chromium not installed; run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared real public logs; tests that need them skip plainly if they are not beside the project."""
    if not config.SHARED_REAL_DATA.exists():
        pytest.skip(f"real data not found at {config.SHARED_REAL_DATA}")
    return config.SHARED_REAL_DATA
