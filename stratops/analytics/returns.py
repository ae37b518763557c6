"""Return series transformations shared by gates and analytics."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

NS_PER_DAY = 86_400 * 10**9


def compound_by_day(
    timestamps: NDArray[np.int64], returns: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Compound per-period returns into one return per UTC day, in time order."""
    if timestamps.size == 0:
        return np.empty(0)
    days = timestamps // NS_PER_DAY
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    log_growth = np.add.reduceat(np.log1p(returns), starts)
    return np.asarray(np.expm1(log_growth), dtype=np.float64)
