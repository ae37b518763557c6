"""Canaries judged on real market data: the 2024-08-05 crash and a quiet night into Sunday.

The market is the packaged Binance BTC/USDT 1-minute candles (``stratops/data/market/
binance-spot-1m``, 2024-07-26 to 2024-08-25; source and licence in that folder's README, the
same file as ``../shared/data/binance-spot-1m``). Each canary is the paper engine trading a
trend follower on those bars, so its telemetry is the engine's: fills paying the spread and
square-root impact of the real bars, partial fills under the 5 % participation cap. The
regime profile is the desk's: the median hour-of-week profile of the month, and the hourly
realized volatility of the bars gives the shock overlay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest
import yaml

from stratops.analytics.regimes import HourOfWeekProfile, hour_of_week_profile, hourly_measures
from stratops.canary import (
    AnalysisRun,
    Canary,
    CanaryTelemetry,
    MeasurementPhase,
    RunAction,
    RunPhase,
    judge,
)
from stratops.model.analysis import AnalysisTemplate, CanaryMetric, Regime
from stratops.paper.config import EngineConfig, ExecutionConfig
from stratops.paper.datasets import load_dataset
from stratops.paper.engine import run_backtest
from stratops.paper.market import Market
from stratops.paper.replay import expected_pnl
from stratops.paper.strategies import strategy_spec

M = CanaryMetric


def utc(text: str) -> datetime:
    return pd.Timestamp(text, tz="UTC").to_pydatetime()


@pytest.fixture(scope="module")
def btc() -> Market:
    return load_dataset("binance-1m", symbols=["BTC/USDT"])


@pytest.fixture(scope="module")
def hourly(btc: Market) -> pd.DataFrame:
    return hourly_measures(btc.ts, btc.close[:, 0], btc.volume[:, 0], btc.step_ns)


@pytest.fixture(scope="module")
def profile(hourly: pd.DataFrame) -> HourOfWeekProfile:
    return hour_of_week_profile(hourly, symbol="BTC/USDT")


def template(text: str) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(yaml.safe_load(text))


def with_thin(tpl: AnalysisTemplate, metric: CanaryMetric, thin: float) -> AnalysisTemplate:
    """The template with the thin threshold of ``metric`` set to ``thin``."""
    rules = [
        r.model_copy(update={"thresholds": r.thresholds.model_copy(update={"thin": thin})})
        if r.metric is metric
        else r
        for r in tpl.spec.metrics
    ]
    return tpl.model_copy(update={"spec": tpl.spec.model_copy(update={"metrics": rules})})


def canary_run(
    btc: Market,
    hourly: pd.DataFrame,
    profile: HourOfWeekProfile,
    tpl: AnalysisTemplate,
    *,
    start: str,
    end: str,
    allocation: float,
    strategy: dict[str, Any],
    impact: float = ExecutionConfig().impact_coefficient,
) -> AnalysisRun:
    """Run the canary on the bars of ``[start, end)`` and judge it at ``end``.

    ``impact`` is the execution the canary meets; the replay it is compared with is the same
    version under the engine's calibrated model.
    """
    begin, stop = pd.Timestamp(start, tz="UTC").value, pd.Timestamp(end, tz="UTC").value
    version = strategy_spec("trend").build(strategy)
    venue = EngineConfig(
        allocation=allocation,
        max_fraction=0.5,
        execution=ExecutionConfig(impact_coefficient=impact),
    )
    tables = run_backtest(btc.between(begin, stop), version, venue).tables()
    model = EngineConfig(allocation=allocation, max_fraction=0.5)
    replay = expected_pnl(btc, version, model, begin, stop)
    telemetry = CanaryTelemetry(tables["fills"], tables["orders"], tables["latency"], tables["pnl"])
    return judge(
        Canary(
            "btc-trend",
            7,
            tpl,
            allocation,
            utc(start),
            telemetry,
            profile,
            replay=replay,
            hourly=hourly,
        ),
        utc(end),
    )


# ------------------------------------------------------------------ the 2024-08-05 crash

CRASH = """
apiVersion: stratops.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: crash-canary
spec:
  interval: 15m
  window: 1h
  minSamples: 10
  failureLimit: 3
  consecutiveFailureLimit: 2
  inconclusiveLimit: 16       # the first hours of the crash leave few fills to judge
  minDuration: 12h
  minPassed: 3
  metrics:
    - metric: slippage_bps
      condition: max
      thresholds: {peak: 4, normal: 5, thin: 15}     # thin (and shock) widened
    - metric: implementation_shortfall_bps
      condition: max
      thresholds: {peak: 10, normal: 12, thin: 30}
    - metric: pnl_vs_backtest
      condition: min
      thresholds: {peak: -3, normal: -3, thin: -3}
  haltOn:
    - metric: drawdown
      above: 0.08
"""
CRASH_RUN = {
    "start": "2024-08-04 20:00",
    "end": "2024-08-05 09:00",
    "allocation": 2_000_000.0,
    "strategy": {"fast": 5, "slow": 30, "allow_short": True},
}


def test_a_healthy_canary_trades_through_the_crash_judged_by_the_thin_thresholds(
    btc: Market, hourly: pd.DataFrame, profile: HourOfWeekProfile
) -> None:
    run = canary_run(btc, hourly, profile, template(CRASH), **CRASH_RUN)
    assert run.phase is RunPhase.PASSED and run.action is RunAction.PROMOTE
    assert run.decided_at == utc("2024-08-05 08:00")  # minDuration 12h after 20:00
    slippage = [m for m in run.measurements if m.metric is M.SLIPPAGE_BPS]
    crash = [m for m in slippage if m.shock]
    assert crash and all(m.regime is Regime.THIN for m in crash)
    # the crash cost more than a normal hour may: judged as normal, these would have failed
    assert sum(m.value is not None and m.value > 5 for m in crash if m.samples >= 10) >= 3
    assert not any(m.phase is MeasurementPhase.FAILED for m in run.measurements)
    z = [m.value for m in run.measurements if m.metric is M.PNL_VS_BACKTEST]
    assert z and all(v == 0.0 for v in z)  # a paper canary is its own replay


def test_without_widened_thresholds_the_crash_fails_the_same_canary(
    btc: Market, hourly: pd.DataFrame, profile: HourOfWeekProfile
) -> None:
    narrow = with_thin(template(CRASH), M.SLIPPAGE_BPS, 5.0)
    run = canary_run(btc, hourly, profile, narrow, **CRASH_RUN)
    assert run.phase is RunPhase.FAILED and run.action is RunAction.ROLLBACK
    assert run.reason.startswith("failed: slippage_bps ")
    assert run.decided_at is not None
    assert utc("2024-08-05 02:00") <= run.decided_at <= utc("2024-08-05 07:00")


def test_a_version_whose_orders_pay_more_fails_even_with_widened_thresholds(
    btc: Market, hourly: pd.DataFrame, profile: HourOfWeekProfile
) -> None:
    """Three times the impact its evidence was calibrated with: it fails on normal hours."""
    run = canary_run(btc, hourly, profile, template(CRASH), impact=3.0, **CRASH_RUN)
    assert run.phase is RunPhase.FAILED and run.action is RunAction.ROLLBACK
    assert run.reason == (
        "failed: slippage_bps 3 consecutive failed measurements > consecutiveFailureLimit 2"
    )
    assert run.decided_at is not None and run.decided_at < utc("2024-08-05 00:00")
    z = [m.value for m in run.measurements if m.metric is M.PNL_VS_BACKTEST]
    assert all(v is not None and v < 0 for v in z[1:])  # it earns less than its replay


# ------------------------------------------------------------------ a quiet night into Sunday

SUNDAY = """
apiVersion: stratops.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: night-canary
spec:
  interval: 15m
  window: 4h
  minSamples: 15
  failureLimit: 3
  consecutiveFailureLimit: 2
  inconclusiveLimit: 6
  minDuration: 24h
  metrics:
    - metric: slippage_bps
      condition: max
      thresholds: {peak: 4, normal: 6, thin: 12}
    - metric: implementation_shortfall_bps
      condition: max
      thresholds: {peak: 8, normal: 12, thin: 25}
    - metric: markout_1m_bps
      condition: min
      thresholds: {peak: -5, normal: -8, thin: -15}
    - metric: fill_ratio          # a thin bar fills at most 5 % of its volume
      condition: min
      thresholds: {peak: 0.95, normal: 0.9, thin: 0.4}
  haltOn:
    - metric: drawdown
      above: 0.05
"""
SUNDAY_RUN = {
    "start": "2024-08-10 20:00",  # a Saturday
    "end": "2024-08-11 08:00",
    "allocation": 20_000.0,
    "strategy": {"fast": 10, "slow": 60, "allow_short": True},
}


def test_a_quiet_night_into_sunday_is_inconclusive_not_failed(
    btc: Market, hourly: pd.DataFrame, profile: HourOfWeekProfile
) -> None:
    run = canary_run(btc, hourly, profile, template(SUNDAY), **SUNDAY_RUN)
    assert run.phase is RunPhase.INCONCLUSIVE and run.action is RunAction.HOLD
    assert run.reason.startswith("inconclusive: slippage_bps 7 inconclusive measurements")
    assert not any(m.phase is MeasurementPhase.FAILED for m in run.measurements)
    assert {m.regime for m in run.measurements if m.end < utc("2024-08-11 02:00")} == {Regime.THIN}
    few = [m for m in run.measurements if m.phase is MeasurementPhase.INCONCLUSIVE]
    assert few and all(m.samples < 15 for m in few)


def test_judged_like_a_weekday_the_same_night_fails_the_canary(
    btc: Market, hourly: pd.DataFrame, profile: HourOfWeekProfile
) -> None:
    weekday = with_thin(template(SUNDAY), M.FILL_RATIO, 0.9)
    looser = weekday.model_copy(
        update={"spec": weekday.spec.model_copy(update={"min_samples": 10})}
    )
    run = canary_run(btc, hourly, profile, looser, **SUNDAY_RUN)
    assert run.phase is RunPhase.FAILED
    assert run.reason == (
        "failed: fill_ratio 3 consecutive failed measurements > consecutiveFailureLimit 2"
    )
