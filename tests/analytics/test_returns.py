"""The returns convention: fixed allocation, period -> UTC day by summing, drawdown of PnL."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.analytics.returns import NS_PER_DAY, DailyReturns, daily_returns, max_drawdown

HOUR = NS_PER_DAY // 24

DRAWDOWN_CASES = [
    ("peak_then_fall", [0.1, -0.3, -0.3], 0.6),
    ("first_period_loss", [-0.2, 0.1], 0.2),
    ("recovery_then_smaller_dip", [-0.2, 0.25, -0.1], 0.2),
    ("never_below_start", [0.0, 0.05, 0.1], 0.0),
    ("losses_beyond_the_allocation", [0.5, -1.0, -0.8], 1.8),
    ("empty", [], 0.0),
]


@pytest.mark.parametrize(
    ("returns", "expected"), [pytest.param(r, e, id=name) for name, r, e in DRAWDOWN_CASES]
)
def test_max_drawdown_named_cases(returns: list[float], expected: float) -> None:
    assert max_drawdown(returns) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.floats(min_value=-0.5, max_value=0.5), min_size=1, max_size=80))
def test_max_drawdown_is_the_worst_fall_of_cumulative_pnl(returns: list[float]) -> None:
    equity = np.r_[0.0, np.cumsum(returns)]
    worst = max(max(equity[: i + 1]) - equity[i] for i in range(equity.size))
    assert max_drawdown(returns) == pytest.approx(worst, rel=1e-9, abs=1e-12)


def test_max_drawdown_refuses_gaps_and_matrices() -> None:
    with pytest.raises(ValueError, match="NaN"):
        max_drawdown([0.1, float("nan")])
    with pytest.raises(ValueError, match="one-dimensional"):
        max_drawdown(np.zeros((2, 2)))


def test_daily_returns_sum_the_periods_of_each_utc_day() -> None:
    # hourly periods: 23:00-00:00 ends at midnight and belongs to the day before
    ends = np.array([22, 23, 24, 25, 24 * 3 + 1], dtype=np.int64) * HOUR
    result = daily_returns(ends, [0.01, 0.02, 0.03, -0.04, 0.05])
    np.testing.assert_array_equal(result.ends, np.array([1, 2, 4]) * NS_PER_DAY)
    np.testing.assert_allclose(result.returns, [0.06, -0.04, 0.05], rtol=1e-15)


def test_daily_returns_of_nothing() -> None:
    result = daily_returns(np.zeros(0, dtype=np.int64), [])
    assert result.ends.size == 0 and result.returns.size == 0


def test_the_digest_names_the_content() -> None:
    series = DailyReturns(np.array([NS_PER_DAY], dtype=np.int64), np.array([0.01]))
    same = DailyReturns(np.array([NS_PER_DAY]), np.array([0.01], dtype=np.float32).astype(float))
    assert series.sha256() == DailyReturns(series.ends.copy(), series.returns.copy()).sha256()
    assert series.sha256() != same.sha256()  # float32 rounding is a different series
