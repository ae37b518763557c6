"""The returns convention of the whole product: a fixed allocation, period to day, drawdown.

Every return series stratops handles (a backtest's periods in ``returns.parquet``, the daily
columns of ``trials.parquet``, a deployment's PnL) is PnL divided by a *fixed* allocation: the
capital is not reinvested, so returns add. A day's return is the sum of its periods' returns,
and the drawdown is the fall of cumulative PnL from its running peak, as a fraction of the
allocation. The backtest summary, the sweep's trial matrix, the gates and the analytics all use
the functions below, so the same evidence gives the same number everywhere, to the last bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

NS_PER_DAY = 86_400 * 10**9


def utc_day(timestamps: NDArray[np.int64]) -> NDArray[np.int64]:
    """The UTC day (days since the epoch) each period belongs to.

    Timestamps mark the end of a period, so a period that ends exactly at midnight belongs to
    the day before: a day's last minute bar closes at 00:00 of the next day, and a daily
    return is stamped with the midnight that ends its day.
    """
    return np.asarray((timestamps - 1) // NS_PER_DAY, dtype=np.int64)


@dataclass(frozen=True)
class DailyReturns:
    """One return per UTC day that has periods, in time order.

    ``ends`` is the end of each day (the next midnight, ns since the epoch), the timestamp of
    a row of ``trials.parquet``.
    """

    ends: NDArray[np.int64]
    returns: NDArray[np.float64]

    def sha256(self) -> str:
        """Digest of the series (little-endian int64 ends, then float64 returns).

        Names a trial by its content: a sweep's run and the bundle column it became share it.
        """
        digest = hashlib.sha256(np.asarray(self.ends, dtype="<i8").tobytes())
        digest.update(np.asarray(self.returns, dtype="<f8").tobytes())
        return digest.hexdigest()


def daily_returns(timestamps: NDArray[np.int64], returns: ArrayLike) -> DailyReturns:
    """Sum per-period returns of a fixed allocation into UTC days.

    Parameters
    ----------
    timestamps
        End of each period (ns since the epoch), increasing.
    returns
        Per-period returns, fractions of the allocation.

    Returns
    -------
    DailyReturns
        Only days with at least one period: a day without data is absent, not a zero (the
        bundle's trial dates must be dates that have returns).
    """
    values = np.asarray(returns, dtype=np.float64)
    if timestamps.size == 0:
        return DailyReturns(np.zeros(0, dtype=np.int64), np.zeros(0))
    days = utc_day(timestamps)
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    sums = np.asarray(np.add.reduceat(values, starts), dtype=np.float64)
    return DailyReturns(np.asarray((days[starts] + 1) * NS_PER_DAY, dtype=np.int64), sums)


def max_drawdown(returns: ArrayLike) -> float:
    r"""Largest fall of cumulative PnL from its running peak, a fraction of the allocation.

    .. math::
        C_t = \sum_{u \le t} r_u,\quad C_0 = 0,\qquad
        MDD = \max_t \left(\max_{u \le t} C_u - C_t\right)

    The running peak starts at :math:`C_0 = 0`, so a first-period loss is a drawdown. With a
    fixed allocation :math:`A`, :math:`A \cdot MDD` is the loss in quote currency from the best
    equity to the worst after it (Magdon-Ismail, M. and Atiya, A. (2004), "Maximum drawdown",
    *Risk* 17(10), 99-102, on arithmetic equity).

    Parameters
    ----------
    returns : array_like, shape (T,)
        Per-period returns, fractions of the allocation.

    Returns
    -------
    float
        ``>= 0``; 0 for an empty series or one that never falls below a previous peak.

    Raises
    ------
    ValueError
        If ``returns`` is not one-dimensional or holds NaN or an infinity.
    """
    values = _every_period(returns)
    if values.size == 0:
        return 0.0
    return float(max_drawdowns(values[np.newaxis, :])[0])


def max_drawdowns(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`max_drawdown` of each row of a 2-D array (one series per row), vectorised.

    Rows of different lengths are padded with zeros at their end, which changes nothing: a
    zero return neither raises the peak nor deepens the fall. The caller validates the values.
    """
    equity = np.cumsum(returns, axis=1)
    peak = np.maximum(np.maximum.accumulate(equity, axis=1), 0.0)
    return np.asarray(np.max(peak - equity, axis=1, initial=0.0), dtype=np.float64)


def current_drawdown(returns: ArrayLike) -> float:
    r"""How far cumulative PnL is below its running peak at the last period, a fraction of the
    allocation: :func:`max_drawdown`'s :math:`\max_{u \le t} C_u - C_t` at :math:`t = T`.

    ``0`` for an empty series or one at its peak; raises like :func:`max_drawdown`.
    """
    values = _every_period(returns)
    if values.size == 0:
        return 0.0
    equity = np.cumsum(values)
    return float(max(float(equity.max()), 0.0) - float(equity[-1]))


def _every_period(returns: ArrayLike) -> NDArray[np.float64]:
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("returns contain NaN or an infinity: drawdown needs every period")
    return values


def log_drawdown(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log of compounded equity over its running peak, per period, along axis 0 (``<= 0``).

    Drawdown of a compounding book (analytics of a return series, such as drawdown episodes);
    the gates' drawdown of a fixed allocation is :func:`max_drawdown`. Equity
    ``E_t = prod_{u <= t} (1 + r_u)`` starts at
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
