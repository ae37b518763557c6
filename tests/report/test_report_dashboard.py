"""The strategy page shows the latest report stored with a deployed version, and serves it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium, page
from conftest import STRATEGY, Life
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.controller.audit import AuditLog
from stratops.controller.observability import Metrics, Probes, serve
from stratops.model.base import Stage
from stratops.registry.models import LoggedReport
from stratops.report.html import render_html
from stratops.report.model import Report
from stratops.status.detail import detail
from stratops.status.reports import headline, latest_reports, stored_file
from stratops.status.rows import StatusRow, Sync
from stratops.status.web import AuditView, Dashboard


@pytest.fixture(scope="module")
def logged(life: Life, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`stratops report --log-to-registry`, once: the folder it stored the report in."""
    out = tmp_path_factory.mktemp("logged")
    result = CliRunner().invoke(
        app,
        [
            "report", STRATEGY, "--telemetry", str(life.run), "--version", str(life.version),
            "--tracking-uri", life.location.tracking_uri, "--stage", "paper",
            "--html", str(out / "report.html"), "--markdown", str(out / "report.md"),
            "--log-to-registry",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [stored] = life.registry.logged_reports(STRATEGY, life.version)
    return stored.folder


def test_the_report_json_is_stored_beside_its_pages(
    life: Life, report: Report, logged: str
) -> None:
    [stored] = life.registry.logged_reports(STRATEGY, life.version)
    assert stored.files == ("report.html", "report.json", "report.md")
    data = life.registry.report_file(STRATEGY, life.version, logged, "report.json")
    assert data.decode() == report.to_json()
    assert stored_file(life.registry, STRATEGY, life.version, logged, "nosuch.html") is None
    assert stored_file(life.registry, STRATEGY, life.version, "..", "report.json") is None
    assert life.registry.logged_reports(STRATEGY, 99) == []


def test_the_headline_is_the_reports_own_figures(life: Life, report: Report, logged: str) -> None:
    [found] = latest_reports(life.registry, STRATEGY, [life.version, 99])
    s = report.summary
    assert (found.version, found.folder, found.stage) == (life.version, logged, "paper")
    assert (found.net, found.net_return, found.max_drawdown) == pytest.approx(
        (s.net, s.net_return, s.max_drawdown), rel=1e-9
    )
    assert (found.fills, found.decay) == (s.fills, report.decay.verdict)
    worst = max(report.drawdowns, key=lambda d: abs(d.depth))
    assert (found.worst_drawdown, found.worst_drawdown_cause) == (
        pytest.approx(worst.depth),
        worst.dominant,
    )


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (None, "no report.json stored with this report"),
        (b'{"summary": {}}', "report.json: start: Field required"),
        (b"not json", "report.json: Invalid JSON"),
    ],
)
def test_a_report_without_readable_json_says_so(data: bytes | None, note: str) -> None:
    stored = LoggedReport(strategy="s", version=1, folder="f", files=("report.html",))
    found = headline(stored, data)
    assert found.net is None and found.note.startswith(note)


def row(stage: Stage, version: int) -> StatusRow:
    return StatusRow(
        strategy=STRATEGY, stage=stage, desired_version=version, desired_allocation=1e6,
        running_version=version, running_allocation=1e6, sync=Sync.SYNCED, health=None,
    )  # fmt: skip


@pytest.fixture
def pages(life: Life, logged: str, tmp_path: Path) -> Iterator[str]:
    """The dashboard's pages over the real registry, served on a free loopback port."""
    del logged
    rows = [row(Stage.PAPER, life.version), row(Stage.CANARY, life.version)]
    versions = life.registry.versions(STRATEGY)
    audit = AuditLog(tmp_path / "audit.jsonl")
    board = Dashboard(
        lambda: None,
        lambda name: detail(
            name, rows, versions, [],
            reports=latest_reports(life.registry, name, [life.version]),
        ),
        lambda: AuditView(audit.events(), None),
        lambda *where: stored_file(life.registry, *where),
    )  # fmt: skip
    probes = Probes(stale_after_seconds=float("inf"))
    server, _ = serve(Metrics(), probes, "127.0.0.1", 0, pages=board)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_strategy_page_links_the_stored_report(
    pages: str, life: Life, report: Report, logged: str
) -> None:
    link = f"/strategies/{STRATEGY}/reports/v{life.version}/{logged}/report.html"
    with urllib.request.urlopen(pages + link) as answer:
        assert answer.read().decode() == render_html(report)  # the stored page, as written
        policy = answer.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy
    with urllib.request.urlopen(pages + link.replace("report.html", "report.json")) as answer:
        assert json.loads(answer.read()) == report.as_dict()
    with chromium() as browser, page(browser) as tab:
        tab.open(f"{pages}/strategies/{STRATEGY}")
        [cells] = tab.page.locator("#reports tbody tr").all_inner_texts()
        assert f"v{life.version}" in cells and f"{report.summary.fills}" in cells
        assert f"{100 * report.summary.net_return:.2f}%" in cells
        assert (report.decay.verdict or "not judged").replace("_", " ") in cells
        assert tab.page.locator("#canary-analysis").inner_text() == "No analysis yet."
        tab.screenshot("dashboard-strategy-report")
        tab.page.click("#reports a:text('report.html')")
        tab.page.wait_for_url(f"**{link}")
        assert tab.page.locator("svg").count() > 0  # the report itself, rendered
        assert tab.errors == []


def test_status_of_the_strategy_prints_its_latest_report(
    pages: str, life: Life, report: Report, logged: str
) -> None:
    result = CliRunner().invoke(app, ["status", STRATEGY, "--server", pages, "-o", "wide"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "latest report" in text and f"reports/{logged}/" in text
    assert f"{report.summary.net_return:.2%}" in text and "report.json" in text
