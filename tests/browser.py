"""Headless Chromium from Debian's packages, driven by Playwright, for the page tests.

Each page test collects console errors and uncaught exceptions and keeps a screenshot under
``tests/artifacts/`` (git-ignored). Without /usr/bin/chromium the tests are skipped, except in
CI, where ``.ci/run`` installs it and a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Page:
    page: Any
    errors: list[str] = field(default_factory=list)

    def open(self, url: str) -> Any:
        answer = self.page.goto(url, wait_until="networkidle")
        assert answer is not None and answer.ok, f"{url}: {answer and answer.status}"
        return answer

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page(browser: Any, width: int = 1280, height: int = 720) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": width, "height": height})
    tab = ctx.new_page()
    watched = Page(tab)
    tab.on("console", lambda m: m.type == "error" and watched.errors.append(m.text))
    tab.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    try:
        yield watched
    finally:
        ctx.close()
