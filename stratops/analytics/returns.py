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


def log_drawdown(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log of compounded equity over its running peak, per period, along axis 0 (``<= 0``).

    The one drawdown of the product: equity ``E_t = prod_{u <= t} (1 + r_u)`` starts at
    ``E_0 = 1`` (so a first-period loss is a drawdown), a NaN return marks a missing period
    (equity unchanged), and the running peak includes ``E_0``. Computed in log space, so long or
    explosive series do not overflow; ``expm1`` of the result is the drawdown as a fraction of
    the peak. ``returns`` is 1-D or 2-D (one column per series), finite or NaN.

    Raises
    ------
    ValueError
        If a return is below -1 (more than a total loss).
    """
    below = returns < -1.0
    if below.any():
        where = tuple(int(i) for i in np.argwhere(below)[0])
        raise ValueError(
            f"returns contain {int(below.sum())} value(s) below -1 (the first, "
            f"{float(returns[where]):g}, at index {where}); a simple return cannot lose more "
            f"than 100 %. Are these log returns or PnL in currency units?"
        )
    with np.errstate(divide="ignore"):
        log_growth = np.log1p(np.where(np.isnan(returns), 0.0, returns))
    log_equity = np.cumsum(log_growth, axis=0)
    log_peak = np.maximum(np.maximum.accumulate(log_equity, axis=0), 0.0)
    with np.errstate(invalid="ignore"):
        return np.asarray(log_equity - log_peak, dtype=np.float64)
