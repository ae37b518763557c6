"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright.

The page is opened from a file:// URL with the network cut off (every request that is not
the page itself is aborted and counted): it must load with no console error and no failed
request, show every plot, and leave a screenshot in ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser import chromium, page

from stratops.report.html import render_html
from stratops.report.model import Report
from stratops.report.plots import PLOT_IDS


def test_the_page_loads_offline_with_every_plot(report: Report, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    url = page_file.as_uri()
    requests: list[str] = []

    def route(r: Any) -> None:
        if r.request.url == url:
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    with chromium() as browser, page(browser, width=820, height=1000) as tab:
        tab.page.route("**/*", route)
        tab.page.goto(url, wait_until="load")
        for plot_id in PLOT_IDS:
            plot = tab.page.locator(f"svg#{plot_id}")
            assert plot.count() == 1, plot_id
            box = plot.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100, plot_id
        assert tab.page.title() == "btc-trend v1 (paper) report"
        screenshot = tab.screenshot("report")
        assert tab.errors == []
    assert requests == []  # nothing but the page itself was asked for
    assert screenshot.stat().st_size > 10_000
