"""Tests of stratops.analytics.decay on series whose truth is known.

The CUSUM is checked against its recursion, its in-control average run length against
Siegmund's approximation (seeded simulation), and its detection delay after a drift injected at
a known time; the SPRT against Wald's error bounds; the verdict on the four combinations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.analytics.decay import (
    SPRTDecision,
    Verdict,
    cusum,
    cusum_arl,
    cusum_statistic,
    diagnose,
    sprt,
    watch_alpha,
    watch_costs,
)


def _first_alarms(paths: np.ndarray, h: float, k: float = 0.5) -> np.ndarray:
    """Run length (1-based) of the first alarm per column; -1 without one."""
    over = cusum_statistic(paths, 0.0, 1.0, k) > h
    return np.where(over.any(axis=0), over.argmax(axis=0) + 1, -1)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False) | st.just(math.nan), max_size=50),
    st.floats(0, 2),
    st.sampled_from(["upper", "lower"]),
)
def test_cusum_matches_the_recursion(values: list[float], k: float, side: str) -> None:
    s, expected = 0.0, []
    for x in values:
        z = 0.0 if math.isnan(x) else (x - 0.3) / 2.0
        z = z if side == "upper" else -z
        s = s if math.isnan(x) else max(0.0, s + z - k)
        expected.append(s)
    got = cusum_statistic(np.asarray(values, dtype=float), 0.3, 2.0, k, side)
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_cusum_alarm_index_and_none() -> None:
    assert cusum(np.zeros(100), 0.0, 1.0) is None
    x = np.r_[np.zeros(10), np.full(10, 3.0)]  # +2.5 per step after 10: S > 5 at the third
    assert cusum(x, 0.0, 1.0) == 12
    assert cusum(-x, 0.0, 1.0, side="lower") == 12
    assert cusum(x, 0.0, 1.0, side="lower") is None


def test_siegmund_approximation_values() -> None:
    assert cusum_arl(0.0) == pytest.approx(938.2, abs=0.1)
    assert cusum_arl(1.0) == pytest.approx(10.34, abs=0.005)  # exact: about 10.4
    assert cusum_arl(0.5) == pytest.approx((5 + 1.166) ** 2)


def test_in_control_run_length_matches_siegmund() -> None:
    rng = np.random.default_rng(1954)
    h = 4.0
    paths = rng.standard_normal((3000, 2000))
    run = _first_alarms(paths, h)
    assert (run > 0).mean() > 0.999  # P(no alarm in 3000) ~ exp(-3000/338)
    arl = cusum_arl(0.0, 0.5, h)
    assert arl == pytest.approx(338.0, rel=0.01)
    assert run[run > 0].mean() == pytest.approx(arl, rel=0.08)  # sd of the mean ~ 2.2 %
    # the in-control run length is close to geometric: the false-alarm rate per observation
    assert (run[run > 0] <= 100).mean() == pytest.approx(1 - math.exp(-100 / arl), abs=0.04)


def test_drift_detected_within_the_expected_delay() -> None:
    rng = np.random.default_rng(7)
    t0, shift = 200, 1.0
    paths = rng.standard_normal((400, 2000))
    paths[t0:] += shift
    run = _first_alarms(paths, 5.0)
    clean = run > t0  # no false alarm before the drift
    assert clean.mean() > 0.7
    delay = run[clean] - t0
    assert delay.mean() == pytest.approx(cusum_arl(shift), rel=0.15)
    assert np.quantile(delay, 0.95) < 3 * cusum_arl(shift)


def test_sprt_error_rates_within_wald_bounds() -> None:
    rng = np.random.default_rng(45)
    alpha, beta = 0.05, 0.2
    h0 = rng.normal(0.0, 1.0, (3000, 400))
    h1 = rng.normal(0.5, 1.0, (3000, 400))
    under_h0 = [sprt(row, 0.0, 0.5, 1.0, alpha, beta) for row in h0]
    under_h1 = [sprt(row, 0.0, 0.5, 1.0, alpha, beta) for row in h1]
    false_alarm = np.mean([r.decision is SPRTDecision.ACCEPT_H1 for r in under_h0])
    miss = np.mean([r.decision is SPRTDecision.ACCEPT_H0 for r in under_h1])
    assert false_alarm <= alpha / (1 - beta) and false_alarm > alpha / 3
    assert miss <= beta / (1 - alpha) and miss > beta / 3
    # Wald's average sample number under H0, up to the overshoot (which lengthens the test)
    a, b = math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))
    asn0 = ((1 - alpha) * b + alpha * a) / (-(0.5**2) / 2)
    n0 = np.mean([r.index + 1 for r in under_h0 if r.index is not None])
    assert asn0 <= n0 < 1.6 * asn0


def test_sprt_continue_and_bad_input() -> None:
    result = sprt([0.25], 0.0, 0.5, 1.0)
    assert result.decision is SPRTDecision.CONTINUE and result.index is None
    with pytest.raises(ValueError, match="differ"):
        sprt([0.1], 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        sprt([0.1], 0.0, 1.0, 1.0, alpha=0.0)
    with pytest.raises(ValueError, match="sigma"):
        cusum([0.1], 0.0, 0.0)
    with pytest.raises(ValueError, match="h must"):
        cusum([0.1], 0.0, 1.0, h=-1)


@pytest.mark.parametrize(
    ("alpha_drift", "cost_drift", "verdict"),
    [
        (True, False, Verdict.EDGE_DECAY),
        (False, True, Verdict.EXECUTION_DEGRADATION),
        (True, True, Verdict.REGIME_SHIFT),
        (False, False, Verdict.NOISE),
    ],
)
def test_verdicts(alpha_drift: bool, cost_drift: bool, verdict: Verdict) -> None:
    rng = np.random.default_rng(2)
    n, t0 = 300, 150
    alpha = rng.normal(0.1, 1.0, n)  # backtest: mean 0.1, sd 1 per period
    expected = rng.uniform(2.0, 8.0, n)  # the pre-trade model's cost per trade, bps
    costs = expected + rng.normal(0.0, 3.0, n)
    if alpha_drift:
        alpha[t0:] -= 1.5
    if cost_drift:
        costs[t0:] += 6.0
    diagnosis = diagnose(watch_alpha(alpha, 0.1, 1.0), watch_costs(costs, expected, 3.0))
    assert diagnosis.verdict is verdict, diagnosis.reason
    if alpha_drift:
        assert diagnosis.alpha.first_alarm is not None and diagnosis.alpha.first_alarm >= t0
    if verdict is Verdict.NOISE:
        assert 0 < diagnosis.headroom <= 5.0
        assert "from an alarm" in diagnosis.reason
    else:
        assert diagnosis.headroom == 0.0
    assert diagnosis.as_dict()["verdict"] == verdict.value
