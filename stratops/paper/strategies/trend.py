"""BTC trend follower: long (or short) while the fast moving average is above the slow one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratops.paper.strategies.base import BarStrategy


class TrendFollower(BarStrategy):
    """Moving-average crossover on one symbol.

    Parameters (``parameters``): ``fast`` and ``slow`` windows in bars, ``size`` the target
    fraction when in, ``allow_short`` to go ``-size`` instead of flat below the slow average.
    Flat until both averages exist.
    """

    strategy_type = "trend"
    name = "btc-trend"

    def decide(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Target fraction of the single symbol, one row per bar."""
        symbol = self.symbols[0]
        close = self.close(bars, symbol)
        fast = close.rolling(int(self.parameters["fast"])).mean().to_numpy()
        slow = close.rolling(int(self.parameters["slow"])).mean().to_numpy()
        size = float(self.parameters["size"])
        below = -size if bool(self.parameters.get("allow_short", False)) else 0.0
        known = np.isfinite(fast) & np.isfinite(slow)
        target = np.where(known, np.where(fast > slow, size, below), 0.0)
        return pd.DataFrame({symbol: target})
