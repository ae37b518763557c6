"""A deliberately overfit trend variant, for the promotion gates to catch.

It adds an hour-of-day window to the crossover: trade only in a block of UTC hours. Swept
over many windows, block starts and lengths, the best configuration looks excellent in
sample by luck alone; its ``trials.parquet`` carries every configuration tried, which is what
the deflated Sharpe ratio and PBO need to expose it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratops.paper.strategies.base import BarStrategy


class HourFilteredTrend(BarStrategy):
    """Crossover of ``fast``/``slow`` averages, long or short, only in hours
    ``[start_hour, start_hour + hours)`` UTC (wrapping at midnight); flat outside."""

    strategy_type = "trend"
    name = "btc-trend-overfit"

    def decide(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Target fraction of the single symbol, one row per bar."""
        symbol = self.symbols[0]
        close = self.close(bars, symbol)
        fast = close.rolling(int(self.parameters["fast"])).mean().to_numpy()
        slow = close.rolling(int(self.parameters["slow"])).mean().to_numpy()
        hour = pd.DatetimeIndex(bars["ts"]).hour.to_numpy()
        start, length = int(self.parameters["start_hour"]), int(self.parameters["hours"])
        active = (hour - start) % 24 < length
        size = float(self.parameters["size"])
        known = np.isfinite(fast) & np.isfinite(slow) & active
        target = np.where(known, np.where(fast > slow, size, -size), 0.0)
        return pd.DataFrame({symbol: target})
