"""Return series transformations shared by gates and analytics."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

NS_PER_DAY = 86_400 * 10**9


def utc_day(timestamps: NDArray[np.int64]) -> NDArray[np.int64]:
    """The UTC day (days since the epoch) each period belongs to.

    Timestamps mark the end of a period, so a period that ends exactly at midnight belongs to
    the day before: a day's last minute bar closes at 00:00 of the next day, and a daily
    return is stamped with the midnight that ends its day.
    """
    return np.asarray((timestamps - 1) // NS_PER_DAY, dtype=np.int64)


def compound_by_day(
    timestamps: NDArray[np.int64], returns: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Compound per-period returns into one return per UTC day, in time order."""
    if timestamps.size == 0:
        return np.empty(0)
    days = utc_day(timestamps)
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    log_growth = np.add.reduceat(np.log1p(returns), starts)
    return np.asarray(np.expm1(log_growth), dtype=np.float64)
