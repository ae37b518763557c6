"""Square-root market impact, and its calibration on captured trades and quotes.

``impact = k * sigma * sqrt(Q / V)`` as a fraction of price, with ``sigma`` the volatility
per bar, ``Q`` the quantity filled in the bar and ``V`` the bar's traded volume (Tóth et al.
2011, "Anomalous price impact and the critical nature of liquidity in financial markets").
The law is scale-free: with per-bar ``sigma`` and ``V`` it gives the same impact as with
daily ones, so one coefficient serves every bar size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratops.paper.marketdata.schema import FloatArray


def sqrt_impact(
    quantity: FloatArray, volume: FloatArray, volatility: FloatArray, coefficient: float
) -> FloatArray:
    """Square-root impact of fills, as a fraction of price (>= 0).

    Parameters
    ----------
    quantity
        Filled quantity per bar (sign ignored).
    volume
        Market volume of the bar; where it is 0 the impact is 0 (nothing can fill there).
    volatility
        Volatility per bar (standard deviation of log returns).
    coefficient
        ``k`` of the law.

    Returns
    -------
    ndarray
        ``k * sigma * sqrt(|Q| / V)``.
    """
    safe = np.where(volume > 0, volume, 1.0)
    return np.where(volume > 0, coefficient * volatility * np.sqrt(np.abs(quantity) / safe), 0.0)


def calibrate_impact(trades: pd.DataFrame, quotes: pd.DataFrame, interval_ns: int) -> float:
    """Least-squares ``k`` of ``r = k * sigma * sign(Q) * sqrt(|Q| / V)`` over intervals.

    Over each interval: ``r`` is the log change of the quoted mid, ``Q`` the net aggressor
    quantity (buys minus sells), ``V`` the traded quantity and ``sigma`` the standard deviation
    of ``r`` over the sample. Intervals without trades are skipped.

    Parameters
    ----------
    trades
        Normalised trades (``ts``, ``qty``, ``side``).
    quotes
        Normalised quotes (``ts``, ``bid``, ``ask``).
    interval_ns
        Interval length.

    Returns
    -------
    float
        The coefficient; NaN with fewer than three usable intervals.
    """
    slot_q = quotes["ts"].to_numpy(dtype=np.int64) // interval_ns
    mid = ((quotes["bid"] + quotes["ask"]) / 2).to_numpy(dtype=np.float64)
    last_mid = pd.Series(mid).groupby(slot_q).last()
    slots = np.arange(int(last_mid.index.min()), int(last_mid.index.max()) + 1)
    mids = last_mid.reindex(slots).ffill().to_numpy(dtype=np.float64)
    moves = np.r_[np.nan, np.diff(np.log(mids))]
    sign = np.where(trades["side"].to_numpy() == "buy", 1.0, -1.0)
    qty = trades["qty"].to_numpy(dtype=np.float64)
    slot_t = trades["ts"].to_numpy(dtype=np.int64) // interval_ns
    net = pd.Series(sign * qty).groupby(slot_t).sum().reindex(slots).to_numpy(dtype=np.float64)
    volume = pd.Series(qty).groupby(slot_t).sum().reindex(slots).to_numpy(dtype=np.float64)
    usable = (volume > 0) & np.isfinite(moves)
    if usable.sum() < 3:
        return float("nan")
    r = moves[usable]
    x = np.std(r, ddof=1) * np.sign(net[usable]) * np.sqrt(np.abs(net[usable]) / volume[usable])
    return float(np.dot(x, r) / np.dot(x, x))
