"""Statistics of strategy returns: Sharpe, drawdown, expected shortfall, PSR, DSR, MinTRL, PBO.

Plain, vectorised functions over arrays. They do no I/O and keep no state, so a gate that
calls them with the same evidence gets the same numbers on any machine.

Conventions
-----------
Returns
    Simple (not log) returns per period, *not* annualised: ``0.01`` is +1 % over one period.
    A 1-D array is one series of ``T`` periods; a 2-D array is ``T x N``, one column per
    strategy (or trial), and a per-column statistic then comes back as an array of length
    ``N``. Anything :func:`numpy.asarray` accepts works (lists, pandas Series/DataFrames).
Sharpe ratio
    Mean over the *sample* standard deviation (``ddof=1``). No risk-free rate is
    subtracted: pass excess returns if one applies. :func:`sharpe_ratio`
    annualises by ``sqrt(periods_per_year)``, 365 by default (the market never closes);
    :func:`per_period_sharpe` does not. PSR, DSR, MinTRL and PBO all work with the
    *per-period* Sharpe ratio, as in the papers.
Moments
    Skewness and kurtosis are the population ("biased") moment estimators
    ``g1 = m3 / m2**1.5`` and ``b2 = m4 / m2**2`` where ``m_k`` is the mean of the k-th power
    of deviations from the mean, i.e. ``scipy.stats.skew(x)`` and
    ``scipy.stats.kurtosis(x, fisher=False)`` with their default ``bias=True``. The papers
    plug in "the" sample skewness and kurtosis without fixing an estimator; these scipy
    defaults are what public PSR/DSR code commonly calls. Kurtosis is *raw* (3 for a normal
    distribution), never excess.
Expected shortfall
    Reported as a positive loss: ``0.05`` means the average of the worst tail is -5 %.

NaN policy (applied by every function)
--------------------------------------
* NaN in ``returns`` marks a missing period and is ignored: statistics use the finite
  observations of each column, and a missing period leaves compounded equity unchanged.
  ``+inf``/``-inf`` are not returns and raise :class:`ValueError`.
* The result is NaN when there are fewer observations than the statistic needs: 2 for
  anything built on a standard deviation or a higher moment (Sharpe ratio, skewness,
  kurtosis, PSR/DSR when ``n_obs < 2``), 1 for :func:`max_drawdown` and
  :func:`expected_shortfall`.
* The result is NaN when the standard deviation is zero. "Zero" is decided up to rounding:
  a series is treated as constant when ``sum((r - mean)**2) <= 1e-12 * sum(r**2)``
  (:data:`ZERO_VARIANCE_RTOL`), so the last-bit residue of a constant series does not
  produce a Sharpe ratio of 1e15. (empyrical returns ``+-inf`` there; we return NaN, an
  undefined ratio is not an infinitely good one.)
* NaN in a scalar input of a formula (``sr``, ``skew``, ...) propagates to a NaN result.
  Moments that are impossible for any distribution (``1 - skew*sr + (kurtosis-1)/4*sr**2
  <= 0``, which the Pearson inequality ``kurtosis >= 1 + skew**2`` rules out) give NaN.
* :func:`pbo_cscv` needs a complete matrix and raises :class:`ValueError` on NaN.

Misuse of the API (a level outside (0, 1), an odd number of blocks, a 3-D array, ...)
raises :class:`ValueError` with what was seen and how to fix it.

References
----------
.. [BLP12] Bailey, D. H. and López de Prado, M. (2012). "The Sharpe Ratio Efficient
   Frontier". *Journal of Risk* 15(2), 3-44. https://ssrn.com/abstract=1821643
.. [BLP14] Bailey, D. H. and López de Prado, M. (2014). "The Deflated Sharpe Ratio:
   Correcting for Selection Bias, Backtest Overfitting and Non-Normality". *Journal of
   Portfolio Management* 40(5), 94-107. https://ssrn.com/abstract=2460551
.. [BBLZ17] Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2017). "The
   Probability of Backtest Overfitting". *Journal of Computational Finance* 20(4), 39-69.
   https://ssrn.com/abstract=2326253
.. [AT02] Acerbi, C. and Tasche, D. (2002). "On the coherence of expected shortfall".
   *Journal of Banking & Finance* 26(7), 1487-1503.
.. [M02] Mertens, E. (2002). "Comments on variance of the IID estimator in Lo (2002)".
   Working paper, University of Basel.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

from stratops.analytics.returns import log_drawdown

__all__ = [
    "EULER_MASCHERONI",
    "MAX_PBO_BLOCKS",
    "ZERO_VARIANCE_RTOL",
    "PBOResult",
    "SampleMoments",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "expected_shortfall",
    "max_drawdown",
    "min_track_record_length",
    "pbo_cscv",
    "per_period_sharpe",
    "probabilistic_sharpe_ratio",
    "sample_moments",
    "sharpe_ratio",
]

FloatArray = NDArray[np.float64]

EULER_MASCHERONI: Final[float] = 0.5772156649015329
"""The Euler-Mascheroni constant, used by :func:`expected_max_sharpe`."""

ZERO_VARIANCE_RTOL: Final[float] = 1e-12
"""A series is constant when ``sum((r - mean)**2) <= ZERO_VARIANCE_RTOL * sum(r**2)``."""

MAX_PBO_BLOCKS: Final[int] = 24
"""Largest ``n_blocks`` :func:`pbo_cscv` accepts: C(24, 12) = 2,704,156 combinations."""

# pbo_cscv computes the IS and OOS sums of this many (combination, strategy) cells per
# matrix product (two float64 outputs of 8 MB each): a few dozen BLAS calls rather than
# hundreds, because every call synchronises the BLAS threads, which is slow on a busy machine.
_PBO_PRODUCT_CELLS: Final[int] = 524_288
# ... and scores and ranks them this many cells at a time, 1 MB arrays that stay in the CPU
# cache (measured 2-4x faster than 8 MB ones).
_PBO_SCORE_CELLS: Final[int] = 131_072


# --------------------------------------------------------------------------- input handling


def _as_returns(returns: ArrayLike, name: str = "returns") -> FloatArray:
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


def _as_columns(x: FloatArray) -> FloatArray:
    """View a 1-D series as a single column (T x 1); leave a 2-D array unchanged."""
    return x[:, np.newaxis] if x.ndim == 1 else x


def _per_column_result(values: FloatArray, ndim: int) -> float | FloatArray:
    """Return a float for a 1-D input and the per-column array for a 2-D input."""
    if ndim == 1:
        return float(values[0])
    return values


def _scalar_or_array(values: FloatArray) -> float | FloatArray:
    """Return a float for a 0-d result and the array otherwise (broadcast formula inputs)."""
    if values.ndim == 0:
        return float(values)
    return values


def _check_periods_per_year(periods_per_year: float) -> float:
    if isinstance(periods_per_year, bool) or not (
        math.isfinite(periods_per_year) and periods_per_year > 0
    ):
        raise ValueError(
            f"periods_per_year must be a positive number (365 for daily returns on a 24/7 "
            f"market, 8760 for hourly); got {periods_per_year!r}. Use None for the "
            f"per-period Sharpe ratio."
        )
    return float(periods_per_year)


def _check_probability(value: float, name: str) -> float:
    if isinstance(value, bool) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {value!r}.")
    return float(value)


# --------------------------------------------------------------------------- moments


class _Moments(NamedTuple):
    n: NDArray[np.int64]
    mean: FloatArray
    css: FloatArray  # centred sum of squares, sum((r - mean)**2)
    constant: NDArray[np.bool_]  # zero variance up to rounding (see ZERO_VARIANCE_RTOL)
    m3: FloatArray  # third central moment, mean((r - mean)**3); NaN unless requested
    m4: FloatArray  # fourth central moment, mean((r - mean)**4); NaN unless requested


def _column_moments(x: FloatArray, higher: bool = False) -> _Moments:
    """Per-column count, mean, centred sum of squares (and 3rd/4th central moments).

    ``x`` is T x N; NaN cells are ignored. Two-pass (mean first, then deviations), which
    keeps the variance accurate when the mean is large compared with the dispersion.
    """
    present = ~np.isnan(x)
    n = present.sum(axis=0, dtype=np.int64)
    filled = np.where(present, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / n
        dev = np.where(present, x - mean, 0.0)
    dev2 = dev * dev
    css = dev2.sum(axis=0)
    constant = css <= ZERO_VARIANCE_RTOL * (filled * filled).sum(axis=0)
    m3 = m4 = np.full(x.shape[1], np.nan)
    if higher:
        with np.errstate(invalid="ignore", divide="ignore"):
            m3 = (dev2 * dev).sum(axis=0) / n
            m4 = (dev2 * dev2).sum(axis=0) / n
    return _Moments(n=n, mean=mean, css=css, constant=constant, m3=m3, m4=m4)


def _per_period_sharpe_columns(x: FloatArray) -> FloatArray:
    """Per-period Sharpe ratio of each column of a T x N array, NaN policy applied."""
    mom = _column_moments(x)
    defined = (mom.n >= 2) & ~mom.constant
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(mom.css / (mom.n - 1))
        sr = mom.mean / sd
    return np.where(defined, sr, np.nan)


def per_period_sharpe(returns: ArrayLike) -> float | FloatArray:
    r"""Per-period (not annualised) Sharpe ratio, along axis 0.

    .. math:: \widehat{SR} = \frac{\bar r}{s}, \qquad
              s = \sqrt{\tfrac{1}{n-1}\sum_t (r_t - \bar r)^2}

    Parameters
    ----------
    returns : array_like, shape (T,) or (T, N)
        Per-period simple returns; NaN marks a missing period.

    Returns
    -------
    float or ndarray of shape (N,)
        The Sharpe ratio of the series, or of each column. NaN with fewer than 2
        observations or a zero standard deviation (see the module's NaN policy).

    Raises
    ------
    ValueError
        If ``returns`` has more than 2 dimensions or contains an infinity.

    Notes
    -----
    This is the :math:`\widehat{SR}` that PSR, DSR and MinTRL take [BLP12]_. Sharpe, W. F.
    (1994), "The Sharpe Ratio", *Journal of Portfolio Management* 21(1), 49-58.
    """
    x = _as_returns(returns)
    return _per_column_result(_per_period_sharpe_columns(_as_columns(x)), x.ndim)


def sharpe_ratio(returns: ArrayLike, periods_per_year: float | None = 365) -> float | FloatArray:
    r"""Annualised Sharpe ratio of per-period returns.

    .. math:: SR = \frac{\bar r}{s}\,\sqrt{q}

    with :math:`s` the sample standard deviation (``ddof=1``) and :math:`q` the number of
    periods per year. No risk-free rate is subtracted.

    Parameters
    ----------
    returns : array_like, shape (T,) or (T, N)
        Per-period simple returns; NaN marks a missing period. A 2-D array gives one
        Sharpe ratio per column (per strategy or trial).
    periods_per_year : float or None, default 365
        Periods in a year: 365 for daily returns on a market that never closes, 8760 for
        hourly, 52 for weekly. ``None`` (or 1) gives the per-period Sharpe ratio.

    Returns
    -------
    float or ndarray of shape (N,)
        NaN with fewer than 2 observations or a zero standard deviation.

    Raises
    ------
    ValueError
        If ``periods_per_year`` is not a positive number, or ``returns`` has more than 2
        dimensions or contains an infinity.

    Notes
    -----
    Matches ``empyrical.sharpe_ratio(returns, annualization=periods_per_year)`` except for
    constant series, where empyrical gives ``+-inf`` and this gives NaN. The
    :math:`\sqrt{q}` scaling assumes IID returns (Lo, A. W. (2002), "The Statistics of Sharpe
    Ratios", *Financial Analysts Journal* 58(4), 36-52).
    """
    scale = 1.0 if periods_per_year is None else _check_periods_per_year(periods_per_year)
    x = _as_returns(returns)
    sr = _per_period_sharpe_columns(_as_columns(x)) * np.sqrt(scale)
    return _per_column_result(sr, x.ndim)


class SampleMoments(NamedTuple):
    """What PSR, DSR and MinTRL need from a return series (see :func:`sample_moments`)."""

    sharpe: float
    """Per-period Sharpe ratio, mean / sample standard deviation (``ddof=1``)."""
    skew: float
    """Population skewness ``m3 / m2**1.5`` (``scipy.stats.skew(x)``)."""
    kurtosis: float
    """Raw population kurtosis ``m4 / m2**2`` (``scipy.stats.kurtosis(x, fisher=False)``)."""
    n_obs: int
    """Number of finite observations."""


def sample_moments(returns: ArrayLike) -> SampleMoments:
    r"""Per-period Sharpe ratio, skewness, raw kurtosis and count of one return series.

    .. math::
        \widehat{SR} = \frac{\bar r}{s},\quad
        \hat\gamma_3 = \frac{m_3}{m_2^{3/2}},\quad
        \hat\gamma_4 = \frac{m_4}{m_2^{2}},\quad
        m_k = \frac1n \sum_t (r_t - \bar r)^k

    Parameters
    ----------
    returns : array_like, shape (T,)
        Per-period simple returns; NaN marks a missing period and is dropped.

    Returns
    -------
    SampleMoments
        ``(sharpe, skew, kurtosis, n_obs)``; unpack it straight into
        :func:`probabilistic_sharpe_ratio`. Sharpe, skew and kurtosis are NaN with fewer than
        2 observations or a zero standard deviation.

    Raises
    ------
    ValueError
        If ``returns`` is not 1-D or contains an infinity.

    Notes
    -----
    The moments are the population ("biased", ``bias=True``) estimators, scipy's defaults
    (see the module docstring); the Sharpe ratio keeps ``ddof=1`` like
    :func:`sharpe_ratio`. With daily data the difference between the biased and unbiased
    moment estimators is far below the sampling error of the moments themselves.
    """
    x = _as_returns(returns)
    if x.ndim != 1:
        raise ValueError(
            f"sample_moments takes one series (1-D); got shape {x.shape}. Call it per column."
        )
    mom = _column_moments(_as_columns(x), higher=True)
    n = int(mom.n[0])
    if n < 2 or bool(mom.constant[0]):
        return SampleMoments(sharpe=math.nan, skew=math.nan, kurtosis=math.nan, n_obs=n)
    m2 = float(mom.css[0]) / n
    return SampleMoments(
        sharpe=float(mom.mean[0]) / math.sqrt(float(mom.css[0]) / (n - 1)),
        skew=float(mom.m3[0]) / m2**1.5,
        kurtosis=float(mom.m4[0]) / m2**2,
        n_obs=n,
    )


# --------------------------------------------------------------------------- path and tail risk


def max_drawdown(returns: ArrayLike) -> float | FloatArray:
    r"""Maximum drawdown of compounded equity, as a non-positive fraction (-0.25 = -25 %).

    .. math::
        E_t = \prod_{u \le t} (1 + r_u),\quad E_0 = 1,\qquad
        MDD = \min_t \left(\frac{E_t}{\max_{u \le t} E_u} - 1\right)

    The running peak starts at :math:`E_0 = 1`, so a first-period loss is a drawdown.

    Parameters
    ----------
    returns : array_like, shape (T,) or (T, N)
        Per-period simple returns, each ``>= -1``; NaN marks a missing period (equity
        unchanged).

    Returns
    -------
    float or ndarray of shape (N,)
        In ``[-1, 0]``; 0 when equity never falls below a previous peak, -1 after a total
        loss. NaN for a series without observations.

    Raises
    ------
    ValueError
        If a return is below -1 (more than a total loss), or ``returns`` has more than 2
        dimensions or contains an infinity.

    Notes
    -----
    Computed in log space, :math:`\log E_t = \sum \log(1 + r_u)`, so long or explosive series
    do not overflow. Same definition as ``empyrical.max_drawdown`` (Magdon-Ismail, M. and
    Atiya, A. (2004), "Maximum drawdown", *Risk* 17(10), 99-102).
    """
    x = _as_returns(returns)
    cols = _as_columns(x)
    n = (~np.isnan(cols)).sum(axis=0)
    if cols.shape[0] == 0:
        return _per_column_result(np.full(cols.shape[1], np.nan), x.ndim)
    worst = np.min(log_drawdown(cols), axis=0)
    mdd = np.expm1(worst)
    return _per_column_result(np.where(n >= 1, mdd, np.nan), x.ndim)


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
    alpha = 1.0 - _check_probability(level, "level")
    x = _as_returns(returns)
    cols = _as_columns(x)
    n = (~np.isnan(cols)).sum(axis=0)
    width = np.round(n * alpha, 9)  # tail width, in observations (fractional)
    ordered = np.sort(cols, axis=0)  # NaN sorts last, beyond every weight
    position = np.arange(cols.shape[0], dtype=np.float64)[:, np.newaxis]
    weights = np.clip(width - position, 0.0, 1.0)
    tail_sum = np.where(weights > 0.0, weights * ordered, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        es = -tail_sum / width
    return _per_column_result(np.where(n >= 1, es, np.nan), x.ndim)


# --------------------------------------------------------------------------- PSR, DSR, MinTRL


def _sr_variance_term(sr: FloatArray, skew: FloatArray, kurtosis: FloatArray) -> FloatArray:
    """``1 - skew*sr + (kurtosis - 1)/4 * sr**2``: n-1 times the variance of the SR estimator."""
    result: FloatArray = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    return result


@overload
def probabilistic_sharpe_ratio(
    sr: float, n_obs: float, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float: ...
@overload
def probabilistic_sharpe_ratio(
    sr: ArrayLike,
    n_obs: ArrayLike,
    skew: ArrayLike,
    kurtosis: ArrayLike,
    sr_benchmark: ArrayLike = 0.0,
) -> float | FloatArray: ...
def probabilistic_sharpe_ratio(
    sr: ArrayLike,
    n_obs: ArrayLike,
    skew: ArrayLike,
    kurtosis: ArrayLike,
    sr_benchmark: ArrayLike = 0.0,
) -> float | FloatArray:
    r"""Probabilistic Sharpe ratio: the probability that the true Sharpe exceeds a benchmark.

    Bailey & López de Prado (2012) [BLP12]_:

    .. math::
        \widehat{PSR}(SR^*) = \Phi\left(
            \frac{(\widehat{SR} - SR^*)\sqrt{n-1}}
                 {\sqrt{1 - \hat\gamma_3 \widehat{SR} + \frac{\hat\gamma_4 - 1}{4}\widehat{SR}^2}}
        \right)

    where the denominator is the asymptotic standard deviation of :math:`\widehat{SR}` for
    non-normal IID returns [M02]_ and :math:`\Phi` the standard normal CDF.

    Parameters
    ----------
    sr : float or array_like
        Observed *per-period* Sharpe ratio (divide an annual one by ``sqrt(periods)``).
    n_obs : float or array_like
        Number of return observations :math:`n` behind ``sr``.
    skew : float or array_like
        Skewness :math:`\hat\gamma_3` of the returns.
    kurtosis : float or array_like
        *Raw* kurtosis :math:`\hat\gamma_4` of the returns (3 for normal returns).
    sr_benchmark : float or array_like, default 0.0
        Per-period benchmark Sharpe ratio :math:`SR^*`.

    Returns
    -------
    float or ndarray
        In ``[0, 1]``; arrays broadcast. NaN if ``n_obs < 2``, if an input is NaN, or if
        the moments are impossible (the denominator's radicand ``<= 0``).

    See Also
    --------
    sample_moments : the inputs, estimated from a return series.
    deflated_sharpe_ratio : PSR against the best Sharpe expected from N unskilled trials.
    """
    sr_ = np.asarray(sr, dtype=np.float64)
    n_ = np.asarray(n_obs, dtype=np.float64)
    benchmark = np.asarray(sr_benchmark, dtype=np.float64)
    radicand = _sr_variance_term(
        sr_, np.asarray(skew, dtype=np.float64), np.asarray(kurtosis, dtype=np.float64)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (sr_ - benchmark) * np.sqrt(n_ - 1.0) / np.sqrt(radicand)
        psr = np.asarray(ndtr(z), dtype=np.float64)
    valid = (n_ >= 2.0) & (radicand > 0.0)
    return _scalar_or_array(np.where(valid, psr, np.nan))


@overload
def expected_max_sharpe(sr_variance: float, n_trials: float) -> float: ...
@overload
def expected_max_sharpe(sr_variance: ArrayLike, n_trials: ArrayLike) -> float | FloatArray: ...
def expected_max_sharpe(sr_variance: ArrayLike, n_trials: ArrayLike) -> float | FloatArray:
    r"""Expected maximum Sharpe ratio among ``n_trials`` unskilled (true SR = 0) trials.

    Bailey & López de Prado (2014) [BLP14]_, from the false strategy theorem:

    .. math::
        E[\max_n \widehat{SR}_n] \approx \sqrt{V[\widehat{SR}_n]}\left(
            (1-\gamma)\,\Phi^{-1}\!\left[1 - \tfrac1N\right]
            + \gamma\,\Phi^{-1}\!\left[1 - \tfrac{1}{N e}\right]\right)

    with :math:`\gamma` the Euler-Mascheroni constant and :math:`e` Euler's number.

    Parameters
    ----------
    sr_variance : float or array_like
        Variance :math:`V` of the *per-period* Sharpe ratios across the trials (for
        example ``np.var(per_period_sharpe(trials), ddof=1)``); ``>= 0``.
    n_trials : float or array_like
        Number of independent trials :math:`N \ge 1`. A non-integer "effective" number
        (after clustering correlated trials) is accepted.

    Returns
    -------
    float or ndarray
        The per-period Sharpe ratio that the best of :math:`N` worthless strategies reaches
        on average. Defined as 0 for :math:`N = 1` (the formula's limit is :math:`-\infty`,
        but the expected Sharpe of one unskilled trial is 0). The approximation is meant
        for :math:`N \ge 2`, where it is positive; for :math:`1 < N < 2` it can be
        negative and is returned unclipped. NaN if an input is NaN.

    Raises
    ------
    ValueError
        If ``n_trials < 1`` or ``sr_variance < 0``.
    """
    v = np.asarray(sr_variance, dtype=np.float64)
    n = np.asarray(n_trials, dtype=np.float64)
    if np.any(n < 1.0):
        raise ValueError(
            f"n_trials must be >= 1 (the selected strategy is itself a trial); got "
            f"{np.min(n)!r}. Count every configuration that was backtested."
        )
    if np.any(v < 0.0):
        raise ValueError(
            f"sr_variance is a variance and must be >= 0; got {np.min(v)!r}. Pass the "
            f"variance of the per-period Sharpe ratios, not their mean or a difference."
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        quantiles = (1.0 - EULER_MASCHERONI) * ndtri(1.0 - 1.0 / n) + EULER_MASCHERONI * ndtri(
            1.0 - 1.0 / (n * math.e)
        )
        emax = np.sqrt(v) * quantiles
    return _scalar_or_array(np.asarray(np.where(n == 1.0, v * 0.0, emax), dtype=np.float64))


@overload
def deflated_sharpe_ratio(
    sr: float,
    n_obs: float,
    skew: float,
    kurtosis: float,
    sr_variance: float,
    n_trials: float,
) -> float: ...
@overload
def deflated_sharpe_ratio(
    sr: ArrayLike,
    n_obs: ArrayLike,
    skew: ArrayLike,
    kurtosis: ArrayLike,
    sr_variance: ArrayLike,
    n_trials: ArrayLike,
) -> float | FloatArray: ...
def deflated_sharpe_ratio(
    sr: ArrayLike,
    n_obs: ArrayLike,
    skew: ArrayLike,
    kurtosis: ArrayLike,
    sr_variance: ArrayLike,
    n_trials: ArrayLike,
) -> float | FloatArray:
    r"""Deflated Sharpe ratio: PSR against the best Sharpe expected from luck alone.

    Bailey & López de Prado (2014) [BLP14]_:

    .. math::
        \widehat{DSR} = \widehat{PSR}(\widehat{SR}_0), \qquad
        \widehat{SR}_0 = E[\max_n \widehat{SR}_n]
        \text{ (see :func:`expected_max_sharpe`)}

    Parameters
    ----------
    sr : float or array_like
        Observed per-period Sharpe ratio of the selected strategy.
    n_obs : float or array_like
        Number of return observations behind ``sr``.
    skew : float or array_like
        Skewness of the selected strategy's returns.
    kurtosis : float or array_like
        Raw kurtosis of the selected strategy's returns (3 for normal returns).
    sr_variance : float or array_like
        Variance of the per-period Sharpe ratios across all trials.
    n_trials : float or array_like
        Number of independent trials, including the selected one (``>= 1``).

    Returns
    -------
    float or ndarray
        In ``[0, 1]``; equal to the PSR against 0 when ``n_trials == 1``. NaN under the same
        conditions as :func:`probabilistic_sharpe_ratio`.

    Raises
    ------
    ValueError
        If ``n_trials < 1`` or ``sr_variance < 0``.
    """
    benchmark = expected_max_sharpe(sr_variance, n_trials)
    return probabilistic_sharpe_ratio(sr, n_obs, skew, kurtosis, sr_benchmark=benchmark)


@overload
def min_track_record_length(
    sr: float,
    skew: float,
    kurtosis: float,
    sr_benchmark: float = 0.0,
    confidence: float = 0.95,
) -> float: ...
@overload
def min_track_record_length(
    sr: ArrayLike,
    skew: ArrayLike,
    kurtosis: ArrayLike,
    sr_benchmark: ArrayLike = 0.0,
    confidence: float = 0.95,
) -> float | FloatArray: ...
def min_track_record_length(
    sr: ArrayLike,
    skew: ArrayLike,
    kurtosis: ArrayLike,
    sr_benchmark: ArrayLike = 0.0,
    confidence: float = 0.95,
) -> float | FloatArray:
    r"""Minimum track record length, in periods, for ``sr`` to beat a benchmark significantly.

    Bailey & López de Prado (2012) [BLP12]_:

    .. math::
        MinTRL = 1 + \left(1 - \hat\gamma_3\widehat{SR}
                 + \frac{\hat\gamma_4 - 1}{4}\widehat{SR}^2\right)
                 \left(\frac{Z_{\alpha}}{\widehat{SR} - SR^*}\right)^2,
        \qquad Z_\alpha = \Phi^{-1}(\text{confidence})

    the smallest :math:`n` for which ``probabilistic_sharpe_ratio(sr, n, ...)`` reaches
    ``confidence``.

    Parameters
    ----------
    sr : float or array_like
        Observed per-period Sharpe ratio.
    skew : float or array_like
        Skewness of the returns.
    kurtosis : float or array_like
        Raw kurtosis of the returns (3 for normal returns).
    sr_benchmark : float or array_like, default 0.0
        Per-period benchmark Sharpe ratio :math:`SR^*`.
    confidence : float, default 0.95
        Required probability that the true Sharpe exceeds the benchmark, in (0, 1).

    Returns
    -------
    float or ndarray
        Number of periods (not rounded; take ``math.ceil`` for a count of observations).
        ``inf`` when ``sr <= sr_benchmark``: no track record is long enough. NaN if an
        input is NaN or the moments are impossible.

    Raises
    ------
    ValueError
        If ``confidence`` is not strictly between 0 and 1.
    """
    z = float(ndtri(_check_probability(confidence, "confidence")))
    sr_ = np.asarray(sr, dtype=np.float64)
    benchmark = np.asarray(sr_benchmark, dtype=np.float64)
    radicand = _sr_variance_term(
        sr_, np.asarray(skew, dtype=np.float64), np.asarray(kurtosis, dtype=np.float64)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        length = 1.0 + radicand * (z / (sr_ - benchmark)) ** 2
    length = np.where(sr_ > benchmark, length, np.where(sr_ <= benchmark, np.inf, np.nan))
    length = np.where(radicand > 0.0, length, np.nan)
    return _scalar_or_array(np.asarray(length, dtype=np.float64))


# --------------------------------------------------------------------------- PBO by CSCV


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Outcome of :func:`pbo_cscv`. Arrays are read-only, indexed by combination.

    Combination ``c`` is the ``c``-th element of
    ``itertools.combinations(range(n_blocks), n_blocks // 2)`` (its blocks are in-sample).
    """

    pbo: float
    """Probability of backtest overfitting: the fraction of combinations with logit <= 0."""
    logits: FloatArray
    """Logit of the OOS relative rank of the in-sample winner, one per combination."""
    n_combinations: int
    """Number of in-sample/out-of-sample splits, C(n_blocks, n_blocks / 2)."""
    n_blocks: int
    """Number of contiguous blocks the rows were cut into."""
    n_strategies: int
    """Number of strategies (columns) N."""
    n_obs_used: int
    """Rows used: ``n_blocks * (T // n_blocks)``."""
    n_obs_dropped: int
    """Trailing rows dropped so that every block has the same length."""
    is_sharpe: FloatArray
    """Per-period in-sample Sharpe ratio of the in-sample winner (NaN if undefined)."""
    oos_sharpe: FloatArray
    """Per-period out-of-sample Sharpe ratio of the in-sample winner (NaN if undefined)."""
    degradation_slope: float
    """OLS slope of ``oos_sharpe`` on ``is_sharpe`` (negative: in-sample skill does not carry)."""
    prob_oos_loss: float
    """Fraction of combinations whose winner has a negative OOS Sharpe (where defined)."""


@lru_cache(maxsize=8)
def _cscv_membership(n_blocks: int) -> FloatArray:
    """0/1 matrix (C x S): row c marks the in-sample blocks of the c-th combination.

    Rows are in ``itertools.combinations`` (lexicographic) order. In that order the
    complement of row c is row C-1-c, which :func:`pbo_cscv` relies on to compute every
    half once.
    """
    combos = np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)), dtype=np.intp)
    membership = np.zeros((combos.shape[0], n_blocks), dtype=np.float64)
    np.put_along_axis(membership, combos, 1.0, axis=1)
    if not np.array_equal(membership[::-1], 1.0 - membership):
        raise RuntimeError("internal error: CSCV combinations are not complement-symmetric")
    membership.setflags(write=False)
    return membership


def _halves_score(sums: FloatArray, n_strategies: int, n_rows: int) -> FloatArray:
    """Sharpe score of every strategy over a union of blocks, one row per combination.

    ``sums`` is c x 2N: per combination, the sum of each strategy's returns over the union
    of blocks (first N columns) and the sum of their squares (last N). With n rows in the
    union, the centred sum of squares is ``css = sq - s1**2 / n`` and the score
    ``s1 / sqrt(css)`` is the per-period Sharpe ratio times ``n / sqrt(n - 1)``, a positive
    constant shared by every cell, so it ranks exactly like the Sharpe ratio. For returns
    (mean well below the standard deviation) the rounding error of ``css`` is a few ulps of
    ``sq``, far below the zero-variance tolerance, and a half that is all zeros gives
    exactly 0. Zero-variance halves (the module's rule) score -inf, below every defined
    score.
    """
    s1 = sums[:, :n_strategies]
    sq = sums[:, n_strategies:]
    css = s1 * s1
    css *= -1.0 / n_rows
    css += sq
    constant = css <= ZERO_VARIANCE_RTOL * sq
    np.maximum(css, 0.0, out=css)
    np.sqrt(css, out=css)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(s1, css, out=css)
    css[constant] = -np.inf
    return css


def _winner_logits(
    score_is: FloatArray, score_oos: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Logit of the OOS relative rank of each row's in-sample winner, and its two scores."""
    rows = np.arange(score_is.shape[0])
    n_strategies = score_is.shape[1]
    winner = np.argmax(score_is, axis=1)  # first index among ties
    is_best = score_is[rows, winner]
    oos_best = score_oos[rows, winner]
    target = oos_best[:, np.newaxis]
    below = np.count_nonzero(score_oos < target, axis=1)
    tied = np.count_nonzero(score_oos == target, axis=1)  # includes the winner itself
    rank = below + (tied + 1) / 2.0  # average rank (1 = worst, N = best)
    omega = rank / (n_strategies + 1.0)
    logits = np.log(omega / (1.0 - omega))
    return logits, is_best, oos_best


def _validate_pbo_input(returns_matrix: ArrayLike, n_blocks: int) -> FloatArray:
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int | np.integer):
        raise ValueError(f"n_blocks must be an integer; got {n_blocks!r}.")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(
            f"n_blocks must be an even number >= 2 so the blocks split into two equal "
            f"halves; got {n_blocks}. 16 is the usual choice."
        )
    if n_blocks > MAX_PBO_BLOCKS:
        count = math.comb(n_blocks, n_blocks // 2)
        raise ValueError(
            f"n_blocks={n_blocks} means {count:,} combinations, too many to enumerate; use "
            f"at most {MAX_PBO_BLOCKS} (16 gives 12,870)."
        )
    x = np.asarray(returns_matrix, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(
            f"returns_matrix must be 2-D (T periods x N strategies); got shape {x.shape}."
        )
    t_rows, n_strategies = x.shape
    if n_strategies < 2:
        raise ValueError(
            f"PBO ranks strategies against each other and needs at least 2 columns; got "
            f"{n_strategies}. Pass every trial of the search, one per column."
        )
    if t_rows < n_blocks:
        raise ValueError(
            f"returns_matrix has {t_rows} rows, fewer than n_blocks={n_blocks}; every block "
            f"needs at least one row. Use fewer blocks or a longer history."
        )
    if (n_blocks // 2) * (t_rows // n_blocks) < 2:
        raise ValueError(
            f"with {t_rows} rows and n_blocks={n_blocks} each half holds a single row, and "
            f"a Sharpe ratio needs 2; use at least {2 * n_blocks} rows."
        )
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"returns_matrix contains {int(bad.sum())} NaN or infinite value(s), the first "
            f"at row {row}, column {col}. CSCV needs a complete matrix: fill missing periods "
            f"(0.0 for a flat strategy) or trim the rows to the common history."
        )
    return x


def pbo_cscv(returns_matrix: ArrayLike, n_blocks: int = 16) -> PBOResult:
    r"""Probability of backtest overfitting by combinatorially symmetric cross-validation.

    Bailey, Borwein, López de Prado & Zhu (2017) [BBLZ17]_:

    1. Cut the T x N matrix of per-period returns (one column per strategy tried) into
       :math:`S` = ``n_blocks`` contiguous blocks of equal length :math:`L = \lfloor T/S
       \rfloor`; the last :math:`T - SL` rows are dropped.
    2. For each of the :math:`C = \binom{S}{S/2}` ways to choose half of the blocks as the
       in-sample (IS) set, the other half being out-of-sample (OOS):

       * compute the per-period Sharpe ratio (mean / std, ``ddof=1``) of every strategy
         IS and OOS;
       * take the IS winner :math:`n^*` (first index among ties);
       * take its OOS rank :math:`\omega_c` among the N strategies (1 = worst, N = best;
         ties get the average rank) and the relative rank
         :math:`\bar\omega_c = \omega_c / (N+1)`;
       * the logit :math:`\lambda_c = \ln(\bar\omega_c / (1 - \bar\omega_c))`.
    3. :math:`PBO = \#\{c : \lambda_c \le 0\} / C`: how often the IS winner is no better
       than the OOS median.

    Parameters
    ----------
    returns_matrix : array_like, shape (T, N)
        Per-period returns of N >= 2 strategies over the same T periods, no NaN.
    n_blocks : int, default 16
        Even number of blocks :math:`S`, from 2 to :data:`MAX_PBO_BLOCKS`; 16 gives
        12,870 combinations.

    Returns
    -------
    PBOResult
        ``pbo``, the logits and the winner's IS/OOS Sharpe ratios per combination, the
        slope of OOS on IS Sharpe ("performance degradation") and the probability of an
        OOS loss.

    Raises
    ------
    ValueError
        If ``n_blocks`` is not an even integer in [2, 24], the matrix is not 2-D, has fewer
        than 2 columns, too few rows for the blocks, or contains NaN or infinities.

    Notes
    -----
    Deterministic and vectorised, no randomness. Per block, the sum and the sum of squares
    of every strategy are computed once (S x N); the IS sums of all combinations then come
    from a matrix product with the C x S 0/1 membership matrix, and the OOS sums from its
    complement, which is row C-1-c in lexicographic order, so every half is computed once.
    All halves have the same length, so strategies are compared on
    ``sum / sqrt(centred sum of squares)``, a positive multiple of the Sharpe ratio with
    identical ranks. Combinations are processed in chunks: memory stays at about 20 MB
    beyond the input and the outputs, whatever the number of strategies. 1,000 strategies
    x 1,095 days x 16 blocks take about 0.2 s on one core (``benchmarks/bench_pbo.py``).

    A strategy whose returns over a half have zero variance (the module's rule, e.g. a
    strategy that was flat throughout) has an undefined Sharpe ratio there: it ranks below
    every defined one and ties with the other undefined ones.
    """
    x = _validate_pbo_input(returns_matrix, n_blocks)
    t_rows, n_strategies = x.shape
    block_len = t_rows // n_blocks
    used = n_blocks * block_len
    half_rows = (n_blocks // 2) * block_len

    blocks = x[:used].reshape(n_blocks, block_len, n_strategies)
    block_stats = np.concatenate([blocks.sum(axis=1), (blocks * blocks).sum(axis=1)], axis=1)

    membership = _cscv_membership(n_blocks)
    n_comb = membership.shape[0]
    half = n_comb // 2  # rows 0..half-1 contain block 0; row C-1-c is the complement of c
    logits = np.empty(n_comb, dtype=np.float64)
    is_sharpe = np.empty(n_comb, dtype=np.float64)
    oos_sharpe = np.empty(n_comb, dtype=np.float64)
    product_rows = max(1, _PBO_PRODUCT_CELLS // n_strategies)
    score_rows = max(1, _PBO_SCORE_CELLS // n_strategies)
    for start in range(0, half, product_rows):
        first = membership[start : min(half, start + product_rows)]
        sums_a = first @ block_stats  # IS sums of combinations start..; OOS of their mirrors
        sums_b = (1.0 - first) @ block_stats
        for sub in range(0, first.shape[0], score_rows):
            rows = slice(sub, min(first.shape[0], sub + score_rows))
            score_a = _halves_score(sums_a[rows], n_strategies, half_rows)
            score_b = _halves_score(sums_b[rows], n_strategies, half_rows)
            combo = start + np.arange(sub, rows.stop)
            mirror = n_comb - 1 - combo
            logits[combo], is_sharpe[combo], oos_sharpe[combo] = _winner_logits(score_a, score_b)
            logits[mirror], is_sharpe[mirror], oos_sharpe[mirror] = _winner_logits(score_b, score_a)

    score_to_sharpe = math.sqrt(half_rows - 1.0) / half_rows
    is_sharpe *= score_to_sharpe
    oos_sharpe *= score_to_sharpe
    is_sharpe[np.isinf(is_sharpe)] = np.nan
    oos_sharpe[np.isinf(oos_sharpe)] = np.nan
    for array in (logits, is_sharpe, oos_sharpe):
        array.setflags(write=False)
    return PBOResult(
        pbo=float(np.count_nonzero(logits <= 0.0)) / n_comb,
        logits=logits,
        n_combinations=n_comb,
        n_blocks=n_blocks,
        n_strategies=n_strategies,
        n_obs_used=used,
        n_obs_dropped=t_rows - used,
        is_sharpe=is_sharpe,
        oos_sharpe=oos_sharpe,
        degradation_slope=_ols_slope(is_sharpe, oos_sharpe),
        prob_oos_loss=_fraction_negative(oos_sharpe),
    )


def _ols_slope(x: FloatArray, y: FloatArray) -> float:
    """Least-squares slope of y on x over the pairs where both are finite; NaN if undefined."""
    finite = np.isfinite(x) & np.isfinite(y)
    if np.count_nonzero(finite) < 2:
        return math.nan
    dx = x[finite] - x[finite].mean()
    sxx = float(dx @ dx)
    if sxx <= 0.0:
        return math.nan
    return float(dx @ (y[finite] - y[finite].mean())) / sxx


def _fraction_negative(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan
    return float(np.count_nonzero(finite < 0.0)) / finite.size
