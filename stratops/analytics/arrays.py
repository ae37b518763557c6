"""The return arrays the statistics take: validated, shaped, and shaped back.

Shared by :mod:`stratops.analytics.sharpe` and :mod:`stratops.analytics.risk`.

Returns are simple (not log) returns per period, *not* annualised: ``0.01`` is +1 % over one
period. A 1-D array is one series of ``T`` periods; a 2-D array is ``T x N``, one column per
strategy (or trial), and a per-column statistic then comes back as an array of length ``N``.
Anything :func:`numpy.asarray` accepts works (lists, pandas Series/DataFrames). NaN marks a
missing period; ``+inf``/``-inf`` are not returns and raise :class:`ValueError`, as does
misuse (a level outside (0, 1), a 3-D array, ...), with what was seen and how to fix it.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ZERO_VARIANCE_RTOL",
    "FloatArray",
    "as_columns",
    "as_returns",
    "check_periods_per_year",
    "check_probability",
    "per_column_result",
    "scalar_or_array",
]

FloatArray = NDArray[np.float64]

ZERO_VARIANCE_RTOL: Final[float] = 1e-12
"""A series is constant when ``sum((r - mean)**2) <= ZERO_VARIANCE_RTOL * sum(r**2)``."""


def as_returns(returns: ArrayLike, name: str = "returns") -> FloatArray:
    """Return ``returns`` as a float64 array of 1 or 2 dimensions, rejecting infinities."""
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (T periods) or 2-D (T periods x N strategies); got an "
            f"array of shape {x.shape}. Pass one series, or stack series as columns."
        )
    infinite = np.isinf(x)
    if infinite.any():
        where = tuple(int(i) for i in np.argwhere(infinite)[0])
        raise ValueError(
            f"{name} contains {int(infinite.sum())} infinite value(s), the first at index "
            f"{where}. Returns must be finite; mark a missing period with NaN."
        )
    return x


def as_columns(x: FloatArray) -> FloatArray:
    """View a 1-D series as a single column (T x 1); leave a 2-D array unchanged."""
    return x[:, np.newaxis] if x.ndim == 1 else x


def per_column_result(values: FloatArray, ndim: int) -> float | FloatArray:
    """Return a float for a 1-D input and the per-column array for a 2-D input."""
    if ndim == 1:
        return float(values[0])
    return values


def scalar_or_array(values: FloatArray) -> float | FloatArray:
    """Return a float for a 0-d result and the array otherwise (broadcast formula inputs)."""
    if values.ndim == 0:
        return float(values)
    return values


def check_periods_per_year(periods_per_year: float) -> float:
    if isinstance(periods_per_year, bool) or not (
        math.isfinite(periods_per_year) and periods_per_year > 0
    ):
        raise ValueError(
            f"periods_per_year must be a positive number (365 for daily returns on a 24/7 "
            f"market, 8760 for hourly); got {periods_per_year!r}. Use None for the "
            f"per-period Sharpe ratio."
        )
    return float(periods_per_year)


def check_probability(value: float, name: str) -> float:
    if isinstance(value, bool) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {value!r}.")
    return float(value)
