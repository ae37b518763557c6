"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright.

The page is opened from a file:// URL with the network cut off (every request that is not
the page itself is aborted and counted): it must load with no console error and no failed
request, show every plot, and leave a screenshot in ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stratops.report.html import render_html
from stratops.report.model import Report
from stratops.report.plots import PLOT_IDS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)",
)


def test_the_page_loads_offline_with_every_plot(report: Report, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    url = page_file.as_uri()
    errors: list[str] = []
    requests: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 820, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def route(r: sync_api.Route) -> None:
                if r.request.url == url:
                    r.continue_()
                else:
                    requests.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(url, wait_until="load")
            for plot_id in PLOT_IDS:
                plot = page.locator(f"svg#{plot_id}")
                assert plot.count() == 1, plot_id
                box = plot.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100, plot_id
            assert page.title() == "btc-trend v1 (paper) report"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == []  # nothing but the page itself was asked for
    assert screenshot.stat().st_size > 10_000
    shutil.copy(screenshot, tmp_path / "report.png")
