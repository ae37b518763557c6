"""Pure repair of bars and ticks: sort, de-duplicate, drop invalid rows, fill gaps.

Everything here takes arrays or frames and returns new ones with the counts of what was
done; nothing reads files. The counts are defined in :mod:`.quality`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratops.paper.errors import MarketDataError
from stratops.paper.marketdata.quality import GridFacts, grid_facts
from stratops.paper.marketdata.schema import BAR_COLUMNS, PRICE_COLUMNS, Int64Array


@dataclass(frozen=True)
class RepairCounts:
    """What :func:`repair_bars` or :func:`repair_ticks` found and did."""

    rows_in: int
    invalid: int
    off_grid: int
    out_of_order: int
    duplicates: int
    bad_ohlc: int


def count_out_of_order(ts: Int64Array) -> int:
    """Rows earlier than some row before them: ``ts[i] < max(ts[:i])``."""
    if len(ts) < 2:
        return 0
    running_max = np.maximum.accumulate(ts)
    return int((ts[1:] < running_max[:-1]).sum())


def _keep_last_sorted(ts: Int64Array) -> tuple[Int64Array, int]:
    """Stable sort order of ``ts`` keeping the last row of each time; and the duplicates."""
    order = np.argsort(ts, kind="stable")
    ordered = ts[order]
    is_last = np.r_[ordered[1:] != ordered[:-1], True]
    return order[is_last], int((~is_last).sum())


def repair_bars(
    frame: pd.DataFrame, step_ns: int, symbol: str
) -> tuple[pd.DataFrame, RepairCounts, GridFacts]:
    """Repair raw bars into a regular grid of unique, increasing, valid bars.

    Parameters
    ----------
    frame
        Columns ``ts`` (int64 ns, bar open time), ``open``, ``high``, ``low``, ``close``,
        ``volume``, in any order and with any defects.
    step_ns
        Bar size in nanoseconds; valid bar times are multiples of it.
    symbol
        ``BASE/QUOTE`` written into the ``symbol`` column.

    Returns
    -------
    tuple of (DataFrame, RepairCounts, GridFacts)
        Bars with :data:`~.schema.BAR_COLUMNS` on the grid from the first to the last valid bar;
        missing bars are flat at the previous close with zero volume and ``synthetic`` True.

    Raises
    ------
    MarketDataError
        When no valid bar is left.
    """
    ts = frame["ts"].to_numpy(dtype=np.int64)
    prices = frame[list(PRICE_COLUMNS)].to_numpy(dtype=np.float64)
    volume = frame["volume"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(prices).all(axis=1) & (prices > 0).all(axis=1)
        valid &= np.isfinite(volume) & (volume >= 0)
    on_grid = ts % step_ns == 0
    keep = valid & on_grid
    ts, prices, volume = ts[keep], prices[keep], volume[keep]
    if len(ts) == 0:
        raise MarketDataError(
            f"{symbol}: no valid bar left (rows {len(frame)}, invalid {int((~valid).sum())}, "
            f"off the {step_ns // 1_000_000_000}s grid {int((valid & ~on_grid).sum())})",
            "market_data.empty",
        )
    out_of_order = count_out_of_order(ts)
    rows, duplicates = _keep_last_sorted(ts)
    ts, prices, volume = ts[rows], prices[rows], volume[rows]
    high = prices.max(axis=1)
    low = prices.min(axis=1)
    bad_ohlc = int(((prices[:, 1] != high) | (prices[:, 2] != low)).sum())
    n = int((ts[-1] - ts[0]) // step_ns) + 1
    slot = ((ts - ts[0]) // step_ns).astype(np.int64)
    present = np.zeros(n, dtype=bool)
    present[slot] = True
    source = np.zeros(n, dtype=np.int64)
    source[slot] = np.arange(len(ts))
    previous = np.maximum.accumulate(np.where(present, np.arange(n), 0))
    close_full = prices[source[previous], 3]
    grid = ts[0] + np.arange(n, dtype=np.int64) * step_ns

    def column(values: np.ndarray) -> np.ndarray:
        return np.where(present, values[source], close_full)

    volume_full = np.where(present, volume[source], 0.0)
    repaired = pd.DataFrame(
        {
            "ts": grid,
            "symbol": symbol,
            "open": column(prices[:, 0]),
            "high": column(high),
            "low": column(low),
            "close": close_full,
            "volume": volume_full,
            "synthetic": ~present,
        },
        columns=list(BAR_COLUMNS),
    )
    counts = RepairCounts(
        rows_in=len(frame),
        invalid=int((~valid).sum()),
        off_grid=int((valid & ~on_grid).sum()),
        out_of_order=out_of_order,
        duplicates=duplicates,
        bad_ohlc=bad_ohlc,
    )
    return repaired, counts, grid_facts(grid, ~present, volume_full, step_ns)


def repair_ticks(
    frame: pd.DataFrame, price_columns: tuple[str, ...]
) -> tuple[pd.DataFrame, RepairCounts]:
    """Sort ticks (quotes or trades) by time and drop invalid and repeated rows.

    Parameters
    ----------
    frame
        A ``ts`` column (int64 ns) and the ``price_columns``; other columns ride along.
    price_columns
        Columns that must be finite and positive; for quotes ``("bid", "ask")``, where a
        crossed book (bid above ask) is invalid too.

    Returns
    -------
    tuple of (DataFrame, RepairCounts)
        Rows sorted by ``ts`` (stable), exact repeats of a row dropped. ``off_grid`` and
        ``bad_ohlc`` are always 0 for ticks.
    """
    prices = frame[list(price_columns)].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(prices).all(axis=1) & (prices > 0).all(axis=1)
        if price_columns == ("bid", "ask"):
            valid &= prices[:, 0] <= prices[:, 1]
    kept = frame.loc[valid]
    out_of_order = count_out_of_order(kept["ts"].to_numpy(dtype=np.int64))
    ordered = kept.sort_values("ts", kind="stable")
    repeated = ordered.duplicated(keep="last")
    cleaned = ordered.loc[~repeated].reset_index(drop=True)
    counts = RepairCounts(
        rows_in=len(frame),
        invalid=int((~valid).sum()),
        off_grid=0,
        out_of_order=out_of_order,
        duplicates=int(repeated.sum()),
        bad_ohlc=0,
    )
    return cleaned, counts


def bars_from_trades(trades: pd.DataFrame, step_ns: int, symbol: str) -> pd.DataFrame:
    """Time bars from trades: a bar for every interval from the first trade to the last.

    An interval without trades is a real bar (flat at the previous close, zero volume, not
    synthetic): nothing traded, no data is missing.

    Parameters
    ----------
    trades
        Normalised trades sorted by ``ts``.
    step_ns
        Bar size in nanoseconds.
    symbol
        ``BASE/QUOTE`` of the bars.

    Returns
    -------
    DataFrame
        Bars with :data:`~.schema.BAR_COLUMNS`.
    """
    if trades.empty:
        raise MarketDataError(f"{symbol}: no trades to build bars from", "market_data.empty")
    slot = trades["ts"].to_numpy(dtype=np.int64) // step_ns * step_ns
    grouped = trades.assign(slot=slot).groupby("slot", sort=True)
    price = grouped["price"]
    raw = pd.DataFrame(
        {
            "ts": price.first().index.to_numpy(dtype=np.int64),
            "open": price.first().to_numpy(),
            "high": price.max().to_numpy(),
            "low": price.min().to_numpy(),
            "close": price.last().to_numpy(),
            "volume": grouped["qty"].sum().to_numpy(),
        }
    )
    bars, _, _ = repair_bars(raw, step_ns, symbol)
    bars["synthetic"] = False
    return bars
