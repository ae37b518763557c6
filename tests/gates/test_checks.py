"""Each check against hand-made evidence: pass, fail and inconclusive cases."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from builders import AS_OF, context, evidence
from scipy import stats as scipy_stats

from stratops.gates.checks import data_quality, latency, risk, stage, statistics
from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckStatus
from stratops.model.base import Stage
from stratops.model.policy import (
    CanaryAnalysisCheck,
    CapacityCheck,
    DsrCheck,
    ExpectedShortfallCheck,
    GatePolicySpec,
    LatencyBudget,
    LatencyCheck,
    MaxCountCheck,
    MaxFractionCheck,
    MinFractionCheck,
    MinHistoryCheck,
    MinTimeInStageCheck,
    MinTrackRecordCheck,
    OutliersCheck,
    PboCheck,
    PsrCheck,
    StageOrderCheck,
    StalenessCheck,
)

POLICY = GatePolicySpec(
    latency_budgets={"trend": LatencyBudget(p50_ms=500, p99_ms=2000, p999_ms=5000)},
    rules={},
)


def inputs(ev: Any = None, **context_overrides: Any) -> GateInputs:
    return GateInputs(
        evidence=ev or evidence(), context=context(**context_overrides), policy=POLICY
    )


def quality(**changes: Any) -> Any:
    base = evidence()
    return dataclasses.replace(base, data_quality=base.data_quality.model_copy(update=changes))


@pytest.mark.parametrize(
    ("name", "function", "ev", "check", "expected", "value"),
    [
        ("full coverage", data_quality.coverage, None, MinFractionCheck(min=0.99), "pass", 1.0),
        (
            "thin coverage",
            data_quality.coverage,
            quality(rows=900, expected_rows=1000),
            MinFractionCheck(min=0.99),
            "fail",
            0.9,
        ),
        (
            "no rows expected",
            data_quality.coverage,
            quality(rows=0, expected_rows=0),
            MinFractionCheck(min=0.99),
            "inconclusive",
            None,
        ),
        ("gaps over", data_quality.gaps, quality(gaps=31), MaxCountCheck(max=30), "fail", 31),
        ("gaps at limit", data_quality.gaps, quality(gaps=30), MaxCountCheck(max=30), "pass", 30),
        (
            "duplicates",
            data_quality.duplicates,
            quality(duplicates=1),
            MaxCountCheck(max=0),
            "fail",
            1,
        ),
        (
            "fresh data",
            data_quality.staleness,
            quality(end=(AS_OF - timedelta(days=2)).isoformat()),
            StalenessCheck(max_age="7d"),
            "pass",
            2.0,
        ),
        (
            "stale data",
            data_quality.staleness,
            quality(end=(AS_OF - timedelta(days=30)).isoformat()),
            StalenessCheck(max_age="14d"),
            "fail",
            30.0,
        ),
        (
            "naive end time",
            data_quality.staleness,
            quality(end="2024-02-01T00:00:00"),
            StalenessCheck(max_age="14d"),
            "inconclusive",
            None,
        ),
        (
            "history long enough",
            data_quality.min_history,
            None,
            MinHistoryCheck(min_days=365),
            "pass",
            400 - 1 / 24,
        ),
        (
            "history too short",
            data_quality.min_history,
            evidence(days=100),
            MinHistoryCheck(min_days=365),
            "fail",
            100 - 1 / 24,
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_check_table(
    name: str, function: Any, ev: Any, check: Any, expected: str, value: float | None
) -> None:
    result = function(inputs(ev), check)
    assert result.status == CheckStatus(expected), result.explanation
    if value is None:
        assert result.value is None
    else:
        assert result.value == pytest.approx(value)
    assert result.explanation


def test_outliers_counts_returns_beyond_the_z_score() -> None:
    base = evidence()
    net = base.returns_net.copy()
    net[:5] = 1.0  # five crazy hours
    result = data_quality.outliers(
        inputs(dataclasses.replace(base, returns_net=net)),
        OutliersCheck(z_score=10, max_fraction=0.0001),
    )
    assert result.value == pytest.approx(5 / net.size)
    assert result.status is CheckStatus.FAIL


def test_look_ahead_counts_decisions_stamped_before_their_data() -> None:
    base = evidence()
    trades = base.trades
    assert trades.decision_time is not None and trades.data_time is not None
    decision = trades.decision_time.copy()
    decision[:3] = trades.data_time[:3] - 1
    ev = dataclasses.replace(base, trades=dataclasses.replace(trades, decision_time=decision))
    result = data_quality.look_ahead(inputs(ev), MaxCountCheck(max=0))
    assert (result.status, result.value) == (CheckStatus.FAIL, 3.0)


def test_look_ahead_without_columns_is_inconclusive() -> None:
    base = evidence()
    ev = dataclasses.replace(base, trades=dataclasses.replace(base.trades, data_time=None))
    result = data_quality.look_ahead(inputs(ev), MaxCountCheck(max=0))
    assert result.status is CheckStatus.INCONCLUSIVE


def test_latency_percentiles_against_budget() -> None:
    samples = np.arange(1, 10_001, dtype=np.float64)  # p50 5000.5, p99 9900.01
    ev = dataclasses.replace(evidence(), latency_ms=samples)
    result = latency.latency(inputs(ev), LatencyCheck())
    assert result.status is CheckStatus.FAIL
    assert result.details["p50_ms"] == pytest.approx(np.percentile(samples, 50))
    assert result.details["p999_ms"] == pytest.approx(np.percentile(samples, 99.9))
    assert "over budget at p50, p99, p999" in result.explanation
    fast = dataclasses.replace(evidence(), latency_ms=samples / 20)
    assert latency.latency(inputs(fast), LatencyCheck()).status is CheckStatus.PASS


def test_latency_without_samples_or_budget_is_inconclusive() -> None:
    empty = dataclasses.replace(evidence(), latency_ms=np.empty(0))
    assert latency.latency(inputs(empty), LatencyCheck()).status is CheckStatus.INCONCLUSIVE
    no_budget = GateInputs(evidence(), context(), GatePolicySpec(rules={}))
    assert latency.latency(no_budget, LatencyCheck()).status is CheckStatus.INCONCLUSIVE


def test_max_drawdown_is_a_fraction_of_allocation() -> None:
    net = np.array([0.1, -0.3, -0.3])  # fixed allocation: PnL peaks at +0.1, falls to -0.5
    ev = dataclasses.replace(evidence(), returns_net=net)
    result = risk.max_drawdown(inputs(ev), MaxFractionCheck(max=0.25))
    assert result.value == pytest.approx(0.6)  # compounding would say 1 - 0.49 / 1.1
    assert result.status is CheckStatus.FAIL


def test_expected_shortfall_on_daily_returns() -> None:
    result = risk.expected_shortfall(inputs(), ExpectedShortfallCheck(max=0.05, level=0.975))
    daily = inputs().daily
    worst = np.sort(daily)[: math.ceil(daily.size * 0.025)]
    assert result.value == pytest.approx(-worst.mean(), rel=0.2)
    assert result.status is CheckStatus.PASS


def test_leverage_and_missing_exposure() -> None:
    assert risk.leverage(inputs(), MaxFractionCheck(max=1)).status is CheckStatus.PASS
    assert risk.leverage(inputs(), MaxFractionCheck(max=0.5)).status is CheckStatus.FAIL
    ev = dataclasses.replace(evidence(), gross_exposure=None)
    assert risk.leverage(inputs(ev), MaxFractionCheck(max=1)).status is CheckStatus.INCONCLUSIVE


def test_concentration_is_the_largest_symbols_share_of_notional() -> None:
    base = evidence()
    symbols = np.array(["BTC/USDT"] * 400 + ["ETH/USDT"] * 100)
    ev = dataclasses.replace(base, trades=dataclasses.replace(base.trades, symbol=symbols))
    result = risk.concentration(inputs(ev), MaxFractionCheck(max=0.7))
    assert result.value == pytest.approx(0.8)
    assert result.status is CheckStatus.FAIL


def test_capacity_scales_trades_to_the_target_allocation() -> None:
    # 0.5 BTC per fill against 1,000 BTC bar volume at 100k: 0.05% participation.
    at_canary = risk.capacity(inputs(allocation=100_000.0), CapacityCheck(max_participation=0.01))
    assert at_canary.value == pytest.approx(0.0005)
    assert at_canary.status is CheckStatus.PASS
    at_live = risk.capacity(inputs(allocation=50_000_000.0), CapacityCheck(max_participation=0.01))
    assert at_live.value == pytest.approx(0.25)
    assert at_live.status is CheckStatus.FAIL


def test_capacity_without_backtest_allocation_is_inconclusive() -> None:
    base = evidence()
    ev = dataclasses.replace(base, metadata=base.metadata.model_copy(update={"allocation": None}))
    result = risk.capacity(inputs(ev), CapacityCheck(max_participation=0.01))
    assert result.status is CheckStatus.INCONCLUSIVE


def test_psr_matches_the_published_formula() -> None:
    ins = inputs()
    daily = ins.daily
    sr = daily.mean() / daily.std(ddof=1)
    skew = scipy_stats.skew(daily)
    kurt = scipy_stats.kurtosis(daily, fisher=False)
    n = daily.size
    expected = scipy_stats.norm.cdf(
        sr * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    result = statistics.psr(ins, PsrCheck(min=0.5))
    assert result.value == pytest.approx(expected, rel=1e-9)


def test_dsr_uses_the_registry_trial_count_when_larger() -> None:
    few = statistics.dsr(inputs(registry_trials=20), DsrCheck(min=0.5))
    many = statistics.dsr(inputs(registry_trials=5_000), DsrCheck(min=0.5))
    assert few.details["n_trials"] == 20
    assert many.details["n_trials"] == 5_000
    assert many.value is not None and few.value is not None
    assert many.value < few.value


def test_dsr_and_pbo_need_two_trials() -> None:
    ev = dataclasses.replace(evidence(), trials=np.zeros((400, 1)))
    assert statistics.dsr(inputs(ev), DsrCheck(min=0.5)).status is CheckStatus.INCONCLUSIVE
    assert statistics.pbo(inputs(ev), PboCheck(max=0.5)).status is CheckStatus.INCONCLUSIVE


def test_min_track_record_compares_days_with_mintrl() -> None:
    strong = statistics.min_track_record(inputs(evidence(hourly_mean=0.001)), MinTrackRecordCheck())
    weak = statistics.min_track_record(inputs(evidence(hourly_mean=0.00001)), MinTrackRecordCheck())
    assert strong.status is CheckStatus.PASS
    assert weak.status is CheckStatus.FAIL
    assert strong.threshold is not None and strong.threshold < 400


def test_pbo_of_noise_trials_is_not_extreme() -> None:
    result = statistics.pbo(inputs(), PboCheck(max=0.5, blocks=8))
    assert result.value is not None and 0.0 <= result.value <= 1.0
    assert result.details["combinations"] == 70


@pytest.mark.parametrize(
    ("current", "target", "retired", "ok"),
    [
        (Stage.PAPER, Stage.CANARY, False, True),
        (Stage.CANARY, Stage.LIVE, False, True),
        (None, Stage.PAPER, False, True),
        (None, Stage.PAPER, True, True),
        (Stage.PAPER, Stage.LIVE, False, False),
        (None, Stage.CANARY, False, False),
        (None, Stage.CANARY, True, False),
        (Stage.LIVE, Stage.CANARY, False, False),
        (Stage.CANARY, Stage.PAPER, False, False),
    ],
)
def test_stage_order(current: Stage | None, target: Stage, retired: bool, ok: bool) -> None:
    result = stage.stage_order(
        inputs(current_stage=current, target_stage=target, retired=retired), StageOrderCheck()
    )
    assert (result.status is CheckStatus.PASS) is ok, result.explanation


def test_min_time_in_stage_uses_as_of_not_the_clock() -> None:
    check = MinTimeInStageCheck(min_duration="7d")
    assert stage.min_time_in_stage(inputs(), check).status is CheckStatus.PASS
    recent = inputs(in_stage_since=AS_OF - timedelta(days=2))
    assert stage.min_time_in_stage(recent, check).status is CheckStatus.FAIL
    unknown = inputs(in_stage_since=None)
    assert stage.min_time_in_stage(unknown, check).status is CheckStatus.INCONCLUSIVE


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("passed", "pass"), ("failed", "fail"), (None, "inconclusive")],
)
def test_canary_analysis(outcome: str | None, status: str) -> None:
    result = stage.canary_analysis(
        inputs(canary_analysis=outcome, target_stage=Stage.LIVE, current_stage=Stage.CANARY),
        CanaryAnalysisCheck(),
    )
    assert result.status is CheckStatus(status)
