"""`stratops status` and the dashboard, against a real controller process and a real browser."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alertmanager_process import add_alert, alertmanager, firing
from analysis_runs import HALT_REASON, halted_run
from browser import chromium, page
from desks import Desk

from stratops.canary import AnalysisRun
from stratops.controller.analyses import AnalysisStore
from stratops.controller.assembly import ControllerPaths
from stratops.model.reconciliation import BreakClass, Severity
from stratops.ops.reconciliation.lifecycle import BreakRecord, BreakState
from stratops.ops.reconciliation.store import BreakStore, ReconState
from stratops.status.alertmanager import ALERTMANAGER_ENV
from stratops.status.endpoint import read_endpoint

REGIMES = {"thin", "normal", "peak"}


def stratops(
    desk: Desk, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stratops", *args, "--desk", str(desk.root)],
        capture_output=True, text=True, env=env or _env(desk), timeout=120,
    )  # fmt: skip


def _env(desk: Desk) -> dict[str, str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": desk.registry.location.tracking_uri}
    env.pop(ALERTMANAGER_ENV, None)
    return env


def write_breaks(desk: Desk) -> None:
    """What `stratops recon run` stores: an open break of btc-trend/paper, a cleared one."""
    at = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)

    def record(key: str, state: BreakState) -> BreakRecord:
        return BreakRecord(
            key=key, strategy="btc-trend", stage="paper", kind=BreakClass.QUANTITY,
            source="fills", symbol="BTC/USDT", ts=0, order_key=7, trade_key=1, ledger=0.5,
            venue=0.25, detail=f"{key}: fill quantity 0.5 in the ledger, 0.25 at the venue",
            state=state, severity=Severity.WARNING, first_seen=at, last_seen=at,
        )  # fmt: skip

    BreakStore(ControllerPaths(desk.root).recon).save(
        ReconState(
            breaks=[record("open-one", BreakState.OPEN), record("cleared-one", BreakState.CLEARED)]
        )
    )


def fire_alerts(url: str) -> None:
    """One alert of btc-trend's paper deployment, one of the desk (no strategy label)."""
    add_alert(url, alertname="SlippageHigh", strategy="btc-trend", stage="paper",
              severity="warning")  # fmt: skip
    add_alert(url, alertname="ControllerTickStale", severity="critical")
    wait_for(lambda: len(firing(url)) == 2)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(check, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {check}")


@contextmanager
def controller(desk: Desk, *extra: str) -> Iterator[str]:
    """`stratops controller run` on a free loopback port; yields its URL once it has ticked."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stratops", "controller", "run", "--desk", str(desk.root),
         "--listen", "127.0.0.1:0", "--interval", "1", "--forge", "local", *extra],
        env=_env(desk), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    endpoint = ControllerPaths(desk.root).endpoint
    try:
        url = wait_for(lambda: read_endpoint(endpoint))
        wait_for(lambda: get(f"{url}/api/v1/status")[0] == 200)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not endpoint.exists()


def test_status_without_a_controller_is_a_preview(desk: Desk) -> None:
    recon = ControllerPaths(desk.root).recon
    recon.parent.mkdir(parents=True, exist_ok=True)
    recon.write_text('{"breaks": [{"key": 1}]}')  # a damaged store: said, not a crash
    done = stratops(desk, "status", "-o", "json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["source"] == "preview"
    [row] = found["rows"]
    assert (row["strategy"], row["stage"], row["sync"], row["health"]) == (
        "btc-trend", "paper", "OutOfSync", "Missing",
    )  # fmt: skip
    assert row["sync_reason"].startswith("deploy: ")
    assert (row["recon_breaks"], row["alerts"]) == (None, None)  # no readable store, no AM
    [problem] = found["problems"]
    assert problem.startswith(f"cannot read the reconciliation breaks {recon}")
    assert found["alerts"] == {"state": "not configured", "url": None, "error": None,
                               "firing": []}  # fmt: skip
    [market] = found["markets"]
    assert (market["venue"], market["symbol"], market["dataset"]) == (
        "binance", "BTC/USDT", "binance-1m",
    )  # fmt: skip
    assert market["regime"] in REGIMES and 0 <= market["hour_of_week"] < 168
    done = stratops(desk, "status")
    assert "market regime now" in done.stdout and "alerts: not configured" in done.stdout
    done = stratops(desk, "status", "nosuch")
    assert done.returncode == 1 and "no strategy 'nosuch'" in done.stderr


def test_status_shows_breaks_and_the_alerts_of_a_real_alertmanager(
    desk: Desk, tmp_path: Path
) -> None:
    write_breaks(desk)
    with alertmanager(tmp_path / "alertmanager") as am:
        fire_alerts(am)
        done = stratops(desk, "status", "-o", "json", "--alertmanager", am)
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        [row] = found["rows"]
        assert (row["recon_breaks"], row["alerts"]) == (1, ["SlippageHigh"])
        assert (found["alerts"]["state"], found["alerts"]["url"]) == ("ok", am)
        assert {(a["name"], a["strategy"]) for a in found["alerts"]["firing"]} == {
            ("SlippageHigh", "btc-trend"), ("ControllerTickStale", None),
        }  # fmt: skip
        done = stratops(desk, "status", "btc-trend", "-o", "json",
                        env={**_env(desk), ALERTMANAGER_ENV: am})  # fmt: skip
        detail = json.loads(done.stdout)
        assert [(b["key"], b["state"]) for b in detail["breaks"]] == [("open-one", "open")]
        assert [a["name"] for a in detail["alerts"]] == ["SlippageHigh"]
        done = stratops(desk, "status", "btc-trend", "--alertmanager", am)
        assert "btc-trend: reconciliation breaks" in done.stdout
        assert "open-one:" in done.stdout and "cleared-one" not in done.stdout
    done = stratops(desk, "status", "-o", "wide", "--alertmanager", am)  # it has stopped
    assert done.returncode == 0, done.stderr
    assert f"alerts: {am}: unreachable" in " ".join(done.stdout.split())
    line = next(x for x in done.stdout.splitlines() if "btc-trend" in x)
    assert " 1 " in line  # the open break; the alerts are unknown ("-")


def test_status_and_pages_against_a_running_controller(desk: Desk, tmp_path: Path) -> None:
    with (
        alertmanager(tmp_path / "alertmanager") as am,
        controller(desk, "--alertmanager", am) as url,
    ):
        fire_alerts(am)
        status = wait_for(lambda: _reconciled(url))  # against its paper venue's statement
        [row] = status["rows"]
        assert (row["running_version"], row["health"]) == (1, "Healthy")

        done = stratops(desk, "status", "-o", "wide")
        assert done.returncode == 0, done.stderr
        assert "(controller)" in done.stdout
        line = next(x for x in done.stdout.splitlines() if "btc-trend" in x)
        assert "Synced" in line and "Healthy" in line and "v1 @ 100,000" in line
        done = stratops(desk, "status", "btc-trend", "-o", "json")
        detail = json.loads(done.stdout)
        assert [v["version"] for v in detail["versions"]] == [2, 1]
        assert [h["action"] for h in detail["history"]][-1] == "deploy"

        with chromium() as browser, page(browser) as tab:
            tab.open(f"{url}/")
            assert tab.page.locator("#desk tbody tr").count() == 1
            cells = tab.page.locator("#desk tbody tr td").all_inner_texts()
            assert cells[:6] == ["btc-trend", "paper", "v1 @ 100,000", "v1 @ 100,000",
                                 "Synced", "Healthy"]  # fmt: skip
            assert cells[7:9] == ["0", "SlippageHigh"]  # no break; the firing alert
            assert am in tab.page.locator("#alert-source").inner_text()
            assert "ControllerTickStale" in tab.page.locator("#desk-alerts").inner_text()
            market = tab.page.locator("#markets tbody tr").all_inner_texts()
            assert len(market) == 1 and "BTC/USDT" in market[0] and "binance-1m" in market[0]
            assert tab.page.locator("#markets .pill").inner_text() in REGIMES
            updated = tab.page.locator("#updated").inner_text()  # the script refreshes both:
            tab.page.wait_for_function(
                "was => document.getElementById('updated').textContent !== was", arg=updated
            )
            assert tab.page.locator("#desk tbody tr td").all_inner_texts()[:9] == cells[:9]
            assert tab.page.locator("#markets tbody tr").all_inner_texts() == market
            tab.page.fill("#filter", "no-such-strategy")
            assert tab.page.locator("#desk tbody tr.hidden").count() == 1
            tab.page.fill("#filter", "")
            tab.screenshot("dashboard-desk")

            tab.page.click("text=btc-trend")
            tab.page.wait_for_url("**/strategies/btc-trend")
            assert tab.page.locator("#versions tbody tr").count() == 2
            assert "deploy" in tab.page.locator("#history").inner_text()
            assert "SlippageHigh" in tab.page.locator("#alerts").inner_text()
            tab.screenshot("dashboard-strategy")

            tab.open(f"{url}/audit?action=deploy")
            assert "chain verified" in tab.page.locator("#verification").inner_text()
            events = tab.page.locator("#audit tbody tr").all_inner_texts()
            assert events and all("deploy" in e for e in events)
            tab.screenshot("dashboard-audit")
            tab.page.wait_for_timeout(5500)  # one refresh from the API, in the page's script
            assert tab.page.locator("#desk").count() == 0  # (the audit page has no desk table)
            assert tab.errors == []


def _synced(url: str) -> dict[str, object] | None:
    status = json.loads(get(f"{url}/api/v1/status")[1])
    rows = status["rows"]
    return status if rows and rows[0]["sync"] == "Synced" and rows[0]["health"] else None


def _reconciled(url: str) -> dict[str, object] | None:
    status = _synced(url)
    rows = status["rows"] if status else []
    assert isinstance(rows, list)
    return status if rows and rows[0]["recon_breaks"] == 0 else None


@contextmanager
def ui(desk: Desk, listen: str, *extra: str) -> Iterator[str]:
    """`stratops ui` on ``listen``; yields its loopback URL once it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stratops", "ui", "--desk", str(desk.root), "--listen", listen,
         *extra],
        env=_env(desk), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield line.split(" on ")[-1].split("/ ")[0].replace("0.0.0.0", "127.0.0.1")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_the_strategy_page_charts_the_stored_analysis_runs(desk: Desk) -> None:
    run = halted_run("btc-trend", 2)
    store = AnalysisStore(ControllerPaths(desk.root).analyses)
    store.save(run)
    with ui(desk, "127.0.0.1:0") as url:
        found = json.loads(get(f"{url}/api/v1/strategies/btc-trend")[1])
        [stored] = found["analyses"]
        assert stored["digest"] == run.digest
        assert AnalysisRun.from_storage(stored["run"]) == run
        done = stratops(desk, "status", "btc-trend", "--server", url)
        assert done.returncode == 0, done.stderr
        assert f"analysis v2 step 1/1 (trend-canary): failed -> halt: {HALT_REASON}" in " ".join(
            done.stdout.split()
        )
        with chromium() as browser, page(browser) as tab:
            tab.open(f"{url}/strategies/btc-trend")
            section = tab.page.locator("#analysis-v2-step0")
            assert "failed → halt, halted" in section.locator("h3").inner_text()
            assert section.locator(".reason").inner_text() == HALT_REASON
            assert section.locator("code.digest").get_attribute("title") == run.digest
            charts = section.locator("svg")
            assert [charts.nth(i).get_attribute("id") for i in range(charts.count())] == [
                "analysis-v2-step0-slippage_bps", "analysis-v2-step0-drawdown",
            ]  # fmt: skip
            assert section.locator("polyline.threshold").count() == 1
            assert section.locator("circle.mark").count() == len(run.measurements)
            assert section.locator("circle.halt").count() == 1
            assert charts.first.bounding_box()["width"] > 300  # laid out, not collapsed
            tab.screenshot("dashboard-strategy-analysis")
            store.path("btc-trend", 9).write_text("{}")  # a damaged run: said, the page stands
            tab.open(f"{url}/strategies/btc-trend")
            assert "[analysis.invalid]" in tab.page.locator("#analyses-note").inner_text()
            assert tab.page.locator("section.analysis").count() == 0  # named, not half shown
            assert tab.errors == []


def test_a_token_guards_the_dashboard_off_loopback(desk: Desk) -> None:
    write_breaks(desk)
    refused = stratops(desk, "ui", "--listen", "0.0.0.0:0")
    assert refused.returncode == 2 and "needs a token" in refused.stderr
    with ui(desk, "0.0.0.0:0", "--token", "t0ken") as url:
        assert get(f"{url}/")[0] == 401
        assert get(f"{url}/api/v1/status", {"Authorization": "Bearer wrong"})[0] == 401
        status, body = get(f"{url}/api/v1/status", {"Authorization": "Bearer t0ken"})
        assert status == 200 and json.loads(body)["source"] == "preview"
        assert get(f"{url}/healthz")[0] == 200  # probes stay open
        with chromium() as browser, page(browser) as tab:
            tab.open(f"{url}/?token=t0ken")  # sets the cookie, then the page loads
            assert tab.page.locator("#desk tbody tr").count() == 1
            cells = tab.page.locator("#desk tbody tr td").all_inner_texts()
            assert cells[7:9] == ["1", "-"]  # one open break; no Alertmanager
            assert "alerts: not configured" in tab.page.locator("#alert-source").inner_text()
            tab.open(f"{url}/strategies/btc-trend")
            breaks = tab.page.locator("#breaks tbody tr").all_inner_texts()
            assert len(breaks) == 1 and "open-one" in breaks[0] and "quantity" in breaks[0]
            tab.screenshot("dashboard-strategy-breaks")
            assert tab.errors == []


@pytest.fixture(autouse=True)
def _no_leftover_controller(desk: Desk) -> Iterator[None]:
    yield
    assert read_endpoint(ControllerPaths(desk.root).endpoint) is None
