"""Tail risk of strategy returns: expected shortfall.

Plain, vectorised functions over arrays (:mod:`stratops.analytics.arrays` for the shape of
the input and its validation); no I/O, no state. (Drawdown is
:func:`stratops.analytics.returns.max_drawdown`, on the equity of a fixed allocation, and the
episodes of :mod:`stratops.analytics.drawdowns`.)

Conventions
-----------
Expected shortfall
    Reported as a positive loss: ``0.05`` means the average of the worst tail is -5 %.

NaN policy
----------
NaN in ``returns`` marks a missing period and is ignored; the result is NaN without a finite
observation.

References
----------
.. [AT02] Acerbi, C. and Tasche, D. (2002). "On the coherence of expected shortfall".
   *Journal of Banking & Finance* 26(7), 1487-1503.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from stratops.analytics.arrays import (
    FloatArray,
    as_columns,
    as_returns,
    check_probability,
    per_column_result,
)

__all__ = ["expected_shortfall"]


def expected_shortfall(returns: ArrayLike, level: float = 0.975) -> float | FloatArray:
    r"""Historical expected shortfall (CVaR) at ``level``, reported as a positive loss.

    The mean of the worst :math:`\alpha = 1 - \text{level}` fraction of the observations,
    sign-flipped. With :math:`r_{(1)} \le \dots \le r_{(n)}` the sorted returns and
    :math:`k = \lfloor n\alpha \rfloor`:

    .. math::
        ES_\alpha = -\frac{1}{n\alpha}\left(\sum_{i=1}^{k} r_{(i)}
                    + (n\alpha - k)\, r_{(k+1)}\right)

    Parameters
    ----------
    returns : array_like, shape (T,) or (T, N)
        Per-period simple returns; NaN marks a missing period and is dropped.
    level : float, default 0.975
        Confidence level in (0, 1); 0.975 averages the worst 2.5 % (the Basel FRTB level).

    Returns
    -------
    float or ndarray of shape (N,)
        The average tail loss: ``0.05`` means the worst 2.5 % of periods lost 5 % on
        average. Negative when even the worst tail made money. NaN without observations.
        When :math:`n\alpha < 1` it is the single worst return, negated.

    Raises
    ------
    ValueError
        If ``level`` is not strictly between 0 and 1, or ``returns`` has more than 2
        dimensions or contains an infinity.

    Notes
    -----
    The boundary observation gets the fractional weight :math:`n\alpha - k`, so the tail is
    exactly :math:`n\alpha` observations wide. This is the coherent historical estimator
    of [AT02]_; unlike "mean of the
    :math:`\lceil n\alpha \rceil` worst" it moves continuously with ``level``.
    :math:`n\alpha` is rounded to 9 decimals first, so 1000 x 0.025 is 25, not
    25.000000000000025.
    """
    alpha = 1.0 - check_probability(level, "level")
    x = as_returns(returns)
    cols = as_columns(x)
    n = (~np.isnan(cols)).sum(axis=0)
    width = np.round(n * alpha, 9)  # tail width, in observations (fractional)
    ordered = np.sort(cols, axis=0)  # NaN sorts last, beyond every weight
    position = np.arange(cols.shape[0], dtype=np.float64)[:, np.newaxis]
    weights = np.clip(width - position, 0.0, 1.0)
    tail_sum = np.where(weights > 0.0, weights * ordered, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        es = -tail_sum / width
    return per_column_result(np.where(n >= 1, es, np.nan), x.ndim)
