"""The report of a real paper run: its sections add up, it renders the same bytes twice, and
the command writes HTML, markdown and JSON and stores the report in the registry."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest
from conftest import ALLOCATION, STRATEGY, Life, build
from hypothesis import given
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from stratops.analytics.decay import Verdict
from stratops.cli.main import app
from stratops.controller.audit import AuditLog
from stratops.controller.plan import ActionKind
from stratops.incidents.timeline import CLOSED, OPENED
from stratops.model.base import Stage
from stratops.report.html import render_html
from stratops.report.markdown import render_markdown
from stratops.report.model import Report
from stratops.report.plots import PLOT_IDS
from stratops.report.svg import nice_ticks

runner = CliRunner()


def test_the_pnl_waterfall_walks_the_attribution_to_the_ledger_net(report: Report) -> None:
    steps = report.pnl_waterfall
    assert [s.label for s in steps] == [
        "paper alpha", "delay", "spread", "impact", "opportunity", "fees", "funding", "net"
    ]  # fmt: skip
    assert sum(s.amount for s in steps[:-1]) == pytest.approx(steps[-1].amount, abs=0.01)
    assert round(steps[-1].amount, 2) == round(report.summary.net, 2)  # the ledger, to the cent
    assert steps[0].amount == report.summary.alpha
    assert report.summary.allocation == ALLOCATION
    assert report.summary.fills > 10
    assert not any("differs from the ledger" in note for note in report.notes)


def test_the_attribution_by_symbol_day_and_regime_each_add_up_to_the_net(
    report: Report,
) -> None:
    by = {a.by for a in report.attribution}
    assert by == {"symbol", "day", "regime"}
    for key in by:
        rows = [a for a in report.attribution if a.by == key]
        assert sum(a.pnl for a in rows) == pytest.approx(report.summary.net, abs=0.01)
        assert all(sum(a.parts) == pytest.approx(a.pnl, abs=1e-6) for a in rows)
    days = [a.group for a in report.attribution if a.by == "day"]
    assert days == ["2024-07-29", "2024-07-30", "2024-07-31"]
    assert {a.group for a in report.attribution if a.by == "regime"} <= {"thin", "normal", "peak"}
    assert [a.group for a in report.attribution if a.by == "symbol"] == ["BTC/USDT"]


def test_the_shortfall_and_the_costs_by_group_cover_every_order(report: Report) -> None:
    *parts, total = report.shortfall_waterfall
    assert [p.label for p in parts] == ["delay", "trading", "opportunity", "fees"]
    assert total.total and sum(p.amount for p in parts) == pytest.approx(total.amount)
    assert sum(c.orders for c in report.cost_by_regime) == report.summary.orders
    assert {c.group for c in report.cost_by_regime} <= {"thin", "normal", "peak"}
    buckets = [int(c.group) for c in report.hour_of_week]
    assert buckets == sorted(buckets) and set(buckets) <= set(range(168))
    assert sum(c.orders for c in report.hour_of_week) == report.summary.orders


def test_markouts_at_the_default_horizons_say_where_their_mids_came_from(report: Report) -> None:
    assert [m.label for m in report.markouts] == ["-1m", "1s", "10s", "1m", "5m"]
    assert all(m.fills == report.summary.fills for m in report.markouts)
    assert all(m.from_candle == 1.0 for m in report.markouts)  # a paper run has no quotes
    assert any("markout mids are the bar marks" in note for note in report.notes)


def test_drawdowns_are_diagnosed_and_judged_against_the_backtest(report: Report) -> None:
    assert report.drawdowns
    deepest = report.drawdowns[0]
    assert deepest.depth == pytest.approx(report.summary.max_drawdown)
    assert [d.depth for d in report.drawdowns] == sorted(d.depth for d in report.drawdowns)
    modes = [c.mode for c in deepest.contributions]
    assert modes == ["alpha", "delay", "spread", "impact", "opportunity", "fees", "funding"]
    assert deepest.dominant == min(deepest.contributions, key=lambda c: c.to_trough).mode
    # the returns are net / allocation: the parts add up to the fall, peak to trough
    assert sum(c.to_trough for c in deepest.contributions) == pytest.approx(
        math.expm1(math.log1p(deepest.depth)), rel=0.05
    )
    assert set(deepest.regimes) <= {"thin", "normal", "peak"} and deepest.regimes
    assert all(0.0 <= d.probability <= 1.0 for d in report.drawdowns[:3])
    assert all(math.isnan(d.probability) for d in report.drawdowns[3:])


def test_the_decay_verdict_is_one_of_four(report: Report) -> None:
    assert report.decay.verdict in {v.value for v in Verdict}
    assert report.decay.detail is not None
    assert report.decay.reason.startswith(report.decay.verdict)
    assert {"backtest.evidence", "regime.profile", "telemetry.fills"} <= dict(report.inputs).keys()


def test_same_inputs_same_bytes(life: Life, report: Report) -> None:
    again = build(life)
    assert render_html(again) == render_html(report)
    assert render_markdown(again) == render_markdown(report)
    assert again.to_json() == report.to_json()


def test_the_page_is_self_contained_with_every_plot_once(report: Report) -> None:
    page = render_html(report)
    ids = re.findall(r'<svg [^>]*id="([^"]+)"', page)
    assert ids == list(PLOT_IDS)
    for plot in re.findall(r"<svg .*?</svg>", page, flags=re.S):
        ElementTree.fromstring(plot)  # well-formed XML
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in page and "@import" not in page and "url(" not in page


def test_markdown_has_every_section_and_the_verdict(report: Report) -> None:
    text = render_markdown(report)
    for heading in (
        "## Decay verdict", "## Where the P&L went", "## Attribution", "## Markouts",
        "## Cost by regime",
        "## Drawdowns", "## Notes and inputs",
    ):  # fmt: skip
        assert heading in text
    assert report.decay.verdict is not None
    assert f"**{report.decay.verdict.replace('_', ' ')}**" in text
    assert "| paper alpha |" in text and "| -1m |" in text and "| symbol BTC/USDT |" in text


def _cli(life: Life, *args: str) -> list[str]:
    return [
        "report", STRATEGY, "--telemetry", str(life.run), "--version", str(life.version),
        "--tracking-uri", life.location.tracking_uri, *args,
    ]  # fmt: skip


def test_the_command_writes_the_files_and_stores_them_with_the_version(
    life: Life, report: Report, tmp_path: Path
) -> None:
    html, markdown = tmp_path / "out" / "report.html", tmp_path / "out" / "report.md"
    args = _cli(life, "--stage", "paper", "--html", str(html), "--markdown", str(markdown))
    result = runner.invoke(app, [*args, "--log-to-registry", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == report.as_dict()
    assert html.read_text(encoding="utf-8") == render_html(report)
    assert markdown.read_text(encoding="utf-8") == render_markdown(report)
    client = MlflowClient(life.location.tracking_uri, life.location.tracking_uri)
    run_id = client.get_model_version(STRATEGY, str(life.version)).run_id
    assert run_id is not None
    folders = [a.path for a in client.list_artifacts(run_id, "reports")]
    assert folders == ["reports/paper-20240729T1417-20240731T1416"]
    stored = client.download_artifacts(run_id, folders[0], str(tmp_path / "stored"))
    assert (Path(stored) / "report.html").read_bytes() == html.read_bytes()
    assert (Path(stored) / "report.md").read_bytes() == markdown.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday-ish"], "not an ISO 8601 time"),
        (["--from", "2030-01-01"], "no pnl rows"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    life: Life, tmp_path: Path, args: list[str], message: str
) -> None:
    page = tmp_path / "report.html"
    result = runner.invoke(app, _cli(life, *args, "--html", str(page)))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not page.exists() and list(tmp_path.iterdir()) == []


def test_a_folder_without_telemetry_is_bad_input(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", STRATEGY, "--telemetry", str(tmp_path), "-o", "json"])
    assert result.exit_code == 2
    assert "telemetry.not_found" in result.output


@given(
    st.floats(-1e9, 1e9, allow_nan=False),
    st.floats(0, 1e9, allow_nan=False),
)
def test_ticks_cover_the_range_in_round_steps(low: float, width: float) -> None:
    ticks = nice_ticks(low, low + width)
    assert ticks[0] <= low and ticks[-1] >= low + width
    assert all(b > a for a, b in itertools.pairwise(ticks))
    assert 2 <= len(ticks) <= 12


def test_by_default_the_command_reads_the_stage_deployment_of_the_desk(
    life: Life, report: Report, tmp_path: Path
) -> None:
    """--stage alone: the version from the stage's alias, the telemetry from the runtime."""
    desk = tmp_path / "desk"
    (desk / "manifests").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(desk)], check=True)
    deployment = desk / ".stratops" / "runtime" / f"{STRATEGY}--paper"
    shutil.copytree(life.run, deployment / f"v{life.version}" / "telemetry")
    life.registry.set_stage_alias(
        STRATEGY, Stage.PAPER, life.version, actor="test", reason="the paper run reported on"
    )
    args = ["report", STRATEGY, "--stage", "paper", "--desk", str(desk), "-o", "json"]
    result = runner.invoke(app, [*args, "--tracking-uri", life.location.tracking_uri])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == report.as_dict()


def test_without_the_registry_there_is_no_verdict_and_the_report_says_why(
    life: Life, tmp_path: Path
) -> None:
    page = tmp_path / "run.md"
    args = ["report", STRATEGY, "--telemetry", str(life.run), "--no-registry"]
    result = runner.invoke(app, [*args, "--markdown", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "**not judged**: no backtest evidence" in text
    assert "- no backtest evidence: no decay verdict, no drawdown probabilities" in text
    assert "backtest.evidence" not in text


def test_the_drawdowns_name_the_incidents_and_halts_of_the_audit_log(
    life: Life, report: Report, tmp_path: Path
) -> None:
    deepest = report.drawdowns[0]
    during = pd.Timestamp(deepest.trough_ns, tz="UTC").to_pydatetime()
    log = AuditLog(tmp_path / "audit.jsonl")
    for key, action, strategy, at, details in (
        ("i1", OPENED, STRATEGY, during - timedelta(hours=1), {"alert": "fill-ratio-low"}),
        ("i2", OPENED, "other", during, {"alert": "not ours"}),
        ("h1", ActionKind.HALT.value, STRATEGY, during, {}),
        ("h2", ActionKind.HALT.value, STRATEGY, during + timedelta(days=30), {}),
    ):
        log.append(
            key=key, at=at, actor="ops", action=action, reason="test", strategy=strategy,
            stage="paper", version=life.version, details=details,
        )  # fmt: skip
    log.append(
        key="c1", at=during, actor="ops", action=CLOSED, reason="fixed", details={"incident": 1}
    )
    result = runner.invoke(app, [*_cli(life, "--audit-log", str(log.path)), "-o", "json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)["drawdowns"][0]
    assert first["incidents"] == ["incident #1 fill-ratio-low", "halt of paper v1: test"]
    assert first["halts"] == 1
    assert "audit.incidents" in json.loads(result.stdout)["inputs"]
    assert report.drawdowns[0].incidents == ()  # without the log: none looked up
    assert any("no audit log" in note for note in report.notes)
