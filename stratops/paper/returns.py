"""Pure statistics of a run's returns that the CLI summary and the sweep need."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratops.analytics.returns import NS_PER_DAY, utc_day
from stratops.paper.marketdata.schema import FloatArray, Int64Array

DAYS_PER_YEAR = 365.0


def daily_returns(close_ts: Int64Array, returns: FloatArray) -> tuple[Int64Array, FloatArray]:
    """Sum per-bar returns into UTC days (returns are of a fixed allocation, so they add).

    Parameters
    ----------
    close_ts
        Close time of each bar (ns); a bar closing at midnight belongs to the day it ends.
    returns
        Per-bar returns.

    Returns
    -------
    tuple of ndarray
        End of each day (the next midnight, ns) and the day's return; every day from the
        first to the last bar's, days without bars at 0.
    """
    if len(close_ts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    day = utc_day(close_ts)
    first, last = int(day[0]), int(day[-1])
    sums = np.bincount(day - first, weights=returns, minlength=last - first + 1).astype(np.float64)
    ends = (np.arange(first, last + 1, dtype=np.int64) + 1) * NS_PER_DAY
    return ends, sums


def sharpe(daily: FloatArray) -> float:
    """Annualised Sharpe ratio of daily returns (365 days a year, no risk-free rate).

    NaN with fewer than two days or no variation.
    """
    if len(daily) < 2:
        return float("nan")
    deviation = float(np.std(daily, ddof=1))
    if deviation == 0 or not np.isfinite(deviation):
        return float("nan")
    return float(np.mean(daily) / deviation * np.sqrt(DAYS_PER_YEAR))


def trials_frame(ends: Int64Array, columns: dict[str, FloatArray]) -> pd.DataFrame:
    """``trials.parquet`` content: ``timestamp`` (UTC) and one column per trial."""
    timestamps = pd.DataFrame({"timestamp": pd.to_datetime(ends, utc=True)})
    return pd.concat([timestamps, pd.DataFrame(columns)], axis=1)
