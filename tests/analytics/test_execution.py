"""Execution measures of a deployment's telemetry, against the formulas worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratops.analytics.execution import MEASURES, execution_measures
from stratops.analytics.returns import current_drawdown, max_drawdown

T0 = pd.Timestamp("2024-07-27T00:00:00Z")
HOUR = pd.Timedelta(hours=1)


def _at(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def _orders() -> pd.DataFrame:
    """Two BTC orders in the last hour (one rejected), one older order that is out of it."""
    return pd.DataFrame(
        {
            "ts": [_at(0), _at(90), _at(100)],
            "symbol": ["BTC/USDT"] * 3,
            "order_id": [1, 2, 3],
            "side": ["buy", "buy", "sell"],
            "quantity": [9.0, 2.0, 1.0],
            "filled_quantity": [9.0, 1.0, 0.0],
            "status": ["filled", "partial", "rejected"],
            "decision_price": [100.0, 100.0, 110.0],
            "arrival_price": [100.0, 101.0, 110.0],
            "end_price": [100.0, 104.0, 110.0],
        }
    )


def _fills() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [_at(0), _at(91)],
            "symbol": ["BTC/USDT"] * 2,
            "order_id": [1, 2],
            "side": ["buy", "buy"],
            "quantity": [9.0, 1.0],
            "price": [100.0, 102.0],
            "fee": [0.0, 0.5],
            "mid_after_1m": [99.0, 101.0],
        }
    )


def _measures(**frames: pd.DataFrame) -> pd.DataFrame:
    latency = pd.DataFrame(
        {"ts": [_at(95)] * 3, "symbol": ["BTC/USDT"] * 3, "tick_to_order_ms": [1.0, 2.0, 3.0]}
    )
    pnl = pd.DataFrame(
        {"ts": [_at(m) for m in (0, 60, 100)], "symbol": ["BTC/USDT"] * 3, "net": [50.0, -80, 10]}
    )
    tables = {"orders": _orders(), "fills": _fills(), "latency": latency, "pnl": pnl} | frames
    return execution_measures(**tables, allocation=1000.0, window=HOUR)


def test_measures_of_the_last_hour_by_their_formulas() -> None:
    row = _measures().loc["BTC/USDT"]
    # orders 2 and 3 are in the hour ending at 01:40; decision notional 2*100 + 1*110
    notional = 310.0
    assert row["slippage_bps"] == pytest.approx(1e4 * (1 * (102 - 101)) / notional)
    delay = 2 * (101 - 100) + 0.0  # order 3: arrival = decision
    opportunity = (2 - 1) * (104 - 101) + -1 * (1 - 0) * (110 - 110)
    total = delay + 1.0 + opportunity + 0.5
    assert row["implementation_shortfall_bps"] == pytest.approx(1e4 * total / notional)
    assert row["markout_1m_bps"] == pytest.approx(1e4 * (101 - 102) / 102)  # fill 2 only
    assert row["fill_ratio"] == pytest.approx(1 / 3)
    assert row["reject_rate"] == pytest.approx(1 / 2)
    assert row["latency_p99_ms"] == pytest.approx(np.quantile([1.0, 2.0, 3.0], 0.99))
    assert row["drawdown"] == pytest.approx((50 - (50 - 80 + 10)) / 1000)  # the whole run


def test_nothing_to_measure_is_nan() -> None:
    empty = _orders().iloc[:0]
    measures = _measures(orders=empty, fills=_fills().iloc[:0], latency=pd.DataFrame())
    assert list(measures.columns) == list(MEASURES)
    row = measures.loc["BTC/USDT"]  # it has PnL rows
    assert math.isnan(row["slippage_bps"]) and math.isnan(row["fill_ratio"])
    assert math.isnan(row["latency_p99_ms"]) and math.isnan(row["markout_1m_bps"])
    assert row["drawdown"] == pytest.approx(0.07)


finite = st.floats(-1, 1, allow_nan=False)


@given(st.lists(finite, max_size=50))
def test_current_drawdown_is_the_fall_from_the_peak_at_the_end(returns: list[float]) -> None:
    equity = np.cumsum([0.0, *returns])
    expected = float(equity.max() - equity[-1])
    assert current_drawdown(returns) == pytest.approx(expected, abs=1e-12)
    assert 0 <= current_drawdown(returns) <= max_drawdown(returns) + 1e-12
