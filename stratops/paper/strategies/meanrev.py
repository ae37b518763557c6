"""ETH/BTC mean reversion: trade the z-score of the log price ratio back to its mean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratops.paper.strategies.base import BarStrategy


class PairMeanReversion(BarStrategy):
    """Z-score of ``log(first) - log(second)`` over a trailing window, with hysteresis.

    Parameters: ``window`` in bars, ``entry_z`` (enter when ``|z|`` exceeds it), ``exit_z``
    (leave when ``|z|`` falls below it), ``size`` per leg. Above ``entry_z`` the ratio is rich:
    short the first symbol, long the second; below ``-entry_z`` the reverse. The position is
    held between the thresholds (entry and exit marks, forward-filled: causal).
    """

    strategy_type = "stat_arb"
    name = "eth-btc-meanrev"

    def decide(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Target fractions of both legs, one row per bar."""
        first, second = self.symbols
        ratio = np.log(self.close(bars, first)) - np.log(self.close(bars, second))
        window = int(self.parameters["window"])
        z = (ratio - ratio.rolling(window).mean()) / ratio.rolling(window).std()
        entry, exit_ = float(self.parameters["entry_z"]), float(self.parameters["exit_z"])
        marks = np.select(
            [z > entry, z < -entry, z.abs() < exit_], [-1.0, 1.0, 0.0], default=np.nan
        )
        state = pd.Series(marks).ffill().fillna(0.0).to_numpy()
        size = float(self.parameters["size"])
        return pd.DataFrame({first: state * size, second: -state * size})
