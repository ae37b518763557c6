"""Execution quality of a deployment's recent trading, per symbol: what the alerts watch.

A pure function of telemetry frames (:mod:`stratops.telemetry.schema` columns). Everything but
the drawdown is measured over a trailing ``window`` of the telemetry's own clock (ending at its
newest row, so a replay is measured in replayed time):

slippage_bps
    The trading part of the implementation shortfall (arrival → fills) over the orders'
    decision notional, :func:`stratops.analytics.tca.aggregate_shortfall`'s ``trading_bps``.
implementation_shortfall_bps
    Its ``total_bps`` (delay, trading, opportunity, fees); the unfilled remainder is priced at
    the orders' ``end_price`` (the report's :func:`stratops.report.build.order_frame`).
markout_1m_bps
    ``side × (mid_after_1m − price) / price × 1e4`` (``docs/telemetry.md``), weighted by the
    fills' quantities; negative: the market moved against the fills.
fill_ratio
    Filled over ordered quantity.
latency_p99_ms
    The 99th percentile of ``tick_to_order_ms``.
reject_rate
    Orders of status ``rejected`` over orders sent.
drawdown
    :func:`stratops.analytics.returns.current_drawdown` of the symbol's net PnL per row over the
    allocation, over the whole run.

NaN policy: a measure with nothing to measure in the window (no order, no fill with a 1-minute
markout, no latency sample) is NaN; Prometheus compares NaN with nothing, so no alert fires.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from stratops.analytics.returns import current_drawdown
from stratops.analytics.tca import BPS, aggregate_shortfall, shortfall_table, side_sign

MEASURES: Final = (
    "slippage_bps",
    "implementation_shortfall_bps",
    "markout_1m_bps",
    "fill_ratio",
    "latency_p99_ms",
    "reject_rate",
    "drawdown",
)
MARKOUT_COLUMN: Final = "mid_after_1m"
REJECTED: Final = "rejected"


def _since(frame: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    return frame[frame["ts"] >= start] if len(frame) else frame


def _end(frames: list[pd.DataFrame]) -> pd.Timestamp | None:
    ends = [frame["ts"].max() for frame in frames if len(frame)]
    return max(ends) if ends else None


def _markouts(fills: pd.DataFrame) -> pd.Series:
    if MARKOUT_COLUMN not in fills.columns or not len(fills):
        return pd.Series(dtype=np.float64)
    price = fills["price"].to_numpy(np.float64)
    bps = BPS * side_sign(fills["side"].to_numpy()) * (fills[MARKOUT_COLUMN] - price) / price
    weight = fills["quantity"].where(bps.notna())
    measured = pd.DataFrame({"symbol": fills["symbol"], "cost": bps * weight, "weight": weight})
    sums = measured.groupby("symbol")[["cost", "weight"]].sum(min_count=1)
    markout: pd.Series = sums["cost"] / sums["weight"]
    return markout


def _shortfall(orders: pd.DataFrame, fills: pd.DataFrame) -> pd.DataFrame:
    if not len(orders):
        return pd.DataFrame(columns=["trading_bps", "total_bps"], dtype=np.float64)
    table = shortfall_table(orders, fills[["order_id", "quantity", "price", "fee"]])
    return aggregate_shortfall(table, ["symbol"]).set_index("symbol")


def _drawdowns(pnl: pd.DataFrame, allocation: float) -> pd.Series:
    if not len(pnl) or allocation <= 0:
        return pd.Series(dtype=np.float64)
    net = pnl["net"].fillna(0.0) / allocation
    drawdowns: pd.Series = net.groupby(pnl["symbol"]).agg(current_drawdown)
    return drawdowns


def execution_measures(
    *,
    orders: pd.DataFrame,
    fills: pd.DataFrame,
    latency: pd.DataFrame,
    pnl: pd.DataFrame,
    allocation: float,
    window: pd.Timedelta,
) -> pd.DataFrame:
    """One row per symbol traded, one column per :data:`MEASURES` (see the module docstring).

    ``orders`` (with ``end_price``), ``fills``, ``latency`` and ``pnl`` are the telemetry tables
    as pandas frames (``ts`` in UTC); ``allocation`` is the run's capital.
    """
    symbols = sorted(
        {str(s) for frame in (orders, fills, pnl) if len(frame) for s in frame["symbol"].unique()}
    )
    out = pd.DataFrame(index=pd.Index(symbols, name="symbol"), columns=list(MEASURES), dtype=float)
    end = _end([orders, fills, latency, pnl])
    if end is None:
        return out
    start = end - window
    recent = _since(orders, start)
    shortfall = _shortfall(recent, fills)
    out["slippage_bps"] = shortfall["trading_bps"]
    out["implementation_shortfall_bps"] = shortfall["total_bps"]
    out["markout_1m_bps"] = _markouts(_since(fills, start))
    if len(recent):
        by_symbol = recent.groupby("symbol")
        out["fill_ratio"] = by_symbol["filled_quantity"].sum() / by_symbol["quantity"].sum()
        out["reject_rate"] = (recent["status"] == REJECTED).groupby(recent["symbol"]).mean()
    timed = _since(latency, start)
    if len(timed):
        out["latency_p99_ms"] = timed.groupby("symbol")["tick_to_order_ms"].quantile(0.99)
    out["drawdown"] = _drawdowns(pnl, allocation)
    return out
