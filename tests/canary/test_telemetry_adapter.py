"""The adapter reading a deployment's telemetry for the judge: real Parquet written by the
paper engine's writer, on the packaged Binance BTC/USDT minute candles."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from canary_builders import flat_profile, template

from stratops.canary import Canary, MeasurementPhase, RunPhase, judge
from stratops.model.analysis import CanaryMetric
from stratops.paper.config import EngineConfig
from stratops.paper.datasets import load_dataset
from stratops.paper.engine import run_backtest
from stratops.paper.process import RunIdentity, RunStatus, run_document
from stratops.paper.strategies import strategy_spec
from stratops.paper.telemetry import write_telemetry
from stratops.telemetry.canary import (
    bar_seconds,
    canary_telemetry,
    complete_until,
    run_documents,
)
from stratops.telemetry.reader import Window

START, END = pd.Timestamp("2024-08-06 00:00", tz="UTC"), pd.Timestamp("2024-08-06 06:00", tz="UTC")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``v7/telemetry`` of a paper canary that has reached 06:00 (still running)."""
    btc = load_dataset("binance-1m", symbols=["BTC/USDT"])
    session = run_backtest(
        btc.between(START.value, END.value),
        strategy_spec("trend").build({"fast": 5, "slow": 30, "allow_short": True}),
        EngineConfig(allocation=20_000.0),
    )
    folder = tmp_path_factory.mktemp("deployment") / "v7" / "telemetry"
    run = {
        "status": "running",
        "seen_until": END.isoformat(),
        "markout_horizons_seconds": list(session.horizons()),
    }
    write_telemetry(folder, session.tables(), run)
    return folder.parent


def test_a_running_paper_canary_is_complete_up_to_its_longest_markout(deployment: Path) -> None:
    markouts_known = (END - pd.Timedelta(minutes=5)).to_pydatetime()
    assert complete_until(run_documents(deployment)) == markouts_known
    telemetry = canary_telemetry(deployment, Window(START.to_pydatetime(), END.to_pydatetime()))
    assert telemetry.unreadable is None
    # bars close 00:01 ... 06:00: the 06:00 close is past the window
    assert telemetry.fills.num_rows > 0 and telemetry.pnl.num_rows == 359
    measured = tuple(m for m in CanaryMetric if m is not CanaryMetric.PNL_VS_BACKTEST)
    canary = Canary(
        "btc-trend", 7, template(metrics=measured, minDuration="24h"), 20_000.0,
        START.to_pydatetime(), telemetry, flat_profile(),
    )  # fmt: skip
    run = judge(canary, telemetry.complete_until)  # the paper canary's clock
    assert run.measured_until() == (END - pd.Timedelta(minutes=15)).to_pydatetime()
    assert run.phase is RunPhase.RUNNING
    assert not any(m.phase is MeasurementPhase.ERROR for m in run.measurements)


def test_unreadable_telemetry_is_an_error_not_a_failure(deployment: Path, tmp_path: Path) -> None:
    window = Window(START.to_pydatetime(), END.to_pydatetime())
    nothing = canary_telemetry(tmp_path / "none", window)
    assert nothing.unreadable is not None and "no telemetry" in nothing.unreadable
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text("{}")
    (broken / "fills.parquet").write_bytes(b"PAR1 not parquet")
    telemetry = canary_telemetry(broken, window)
    assert telemetry.unreadable is not None
    canary = Canary(
        "btc-trend", 7, template(), 20_000.0, START.to_pydatetime(), telemetry, flat_profile()
    )
    run = judge(canary, END.to_pydatetime())
    assert run.phase is RunPhase.ERROR
    assert run.measurements[0].note.startswith("telemetry unreadable: ")


def test_an_hourly_paper_canary_says_its_bar_and_its_markouts_are_not_measurable(
    tmp_path: Path,
) -> None:
    """The quick start's canary: a trend follower on hourly candles, whose telemetry is
    complete but has no 1-minute mid (its markouts are 1 h and 5 h after a fill)."""
    start, end = pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-15", tz="UTC")
    hourly = load_dataset("binance-1h", symbols=["BTC/USDT"]).between(start.value, end.value)
    session = run_backtest(
        hourly, strategy_spec("trend").build({"fast": 6, "slow": 24}), EngineConfig(10_000.0)
    )
    folder = tmp_path / "v1" / "telemetry"
    identity = RunIdentity("models:/btc-trend/1", {"name": "btc-trend"})
    write_telemetry(
        folder, session.tables(), run_document(session, identity, "paper", RunStatus.RUNNING, 3600)
    )
    assert bar_seconds(run_documents(tmp_path)) == 3600.0
    telemetry = canary_telemetry(tmp_path, Window(None))
    assert telemetry.unreadable is None and telemetry.bar_seconds == 3600.0
    assert "mid_after_1m" not in telemetry.fills.column_names
    metrics = (CanaryMetric.MARKOUT_1M_BPS, CanaryMetric.DRAWDOWN)
    tpl = template(metrics=metrics, window="2d", interval="1d", minDuration="30d")
    canary = Canary("btc-trend", 1, tpl, 10_000.0, start.to_pydatetime(), telemetry, flat_profile())
    run = judge(canary, end.to_pydatetime())
    markouts = [m for m in run.measurements if m.metric is CanaryMetric.MARKOUT_1M_BPS]
    assert {m.phase for m in markouts} == {MeasurementPhase.INCONCLUSIVE}
    assert markouts[0].note.startswith("markout_1m_bps not measurable on 1h bars")
    assert not any(m.phase is MeasurementPhase.ERROR for m in run.measurements)
    # a template measuring it cannot pass on this deployment: inconclusive, held, and why
    assert len(markouts) == 6 and run.phase is RunPhase.INCONCLUSIVE  # > inconclusiveLimit 5
    assert run.reason.endswith(
        "(markout_1m_bps not measurable on 1h bars: its 1m horizon is shorter than a bar)"
    )


def test_imported_fills_have_no_bar(deployment: Path) -> None:
    assert bar_seconds(run_documents(deployment)) is None  # its run.json names no market
