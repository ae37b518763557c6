"""The Sharpe family: Sharpe ratio, sample moments, PSR, DSR and MinTRL.

Plain, vectorised functions over arrays (:mod:`stratops.analytics.arrays` for the shape of
the input). They do no I/O and keep no state, so a gate that calls them with the same
evidence gets the same numbers on any machine.

Conventions
-----------
Sharpe ratio
    Mean over the *sample* standard deviation (``ddof=1``). No risk-free rate is
    subtracted: pass excess returns if one applies. :func:`sharpe_ratio`
    annualises by ``sqrt(periods_per_year)``, 365 by default (the market never closes);
    :func:`per_period_sharpe` does not. PSR, DSR, MinTRL (and PBO,
    :mod:`stratops.analytics.overfitting`) all work with the *per-period* Sharpe ratio, as in
    the papers.
Moments
    Skewness and kurtosis are the population ("biased") moment estimators
    ``g1 = m3 / m2**1.5`` and ``b2 = m4 / m2**2`` where ``m_k`` is the mean of the k-th power
    of deviations from the mean, i.e. ``scipy.stats.skew(x)`` and
    ``scipy.stats.kurtosis(x, fisher=False)`` with their default ``bias=True``. The papers
    plug in "the" sample skewness and kurtosis without fixing an estimator; these scipy
    defaults are what public PSR/DSR code commonly calls. Kurtosis is *raw* (3 for a normal
    distribution), never excess.

NaN policy (applied by every function)
--------------------------------------
* NaN in ``returns`` marks a missing period and is ignored: statistics use the finite
  observations of each column.
* The result is NaN with fewer than 2 observations (Sharpe ratio, skewness, kurtosis,
  PSR/DSR when ``n_obs < 2``).
* The result is NaN when the standard deviation is zero. "Zero" is decided up to rounding:
  a series is treated as constant when ``sum((r - mean)**2) <= 1e-12 * sum(r**2)``
  (:data:`~stratops.analytics.arrays.ZERO_VARIANCE_RTOL`), so the last-bit residue of a
  constant series does not produce a Sharpe ratio of 1e15. (empyrical returns ``+-inf``
  there; we return NaN, an undefined ratio is not an infinitely good one.)
* NaN in a scalar input of a formula (``sr``, ``skew``, ...) propagates to a NaN result.
  Moments that are impossible for any distribution (``1 - skew*sr + (kurtosis-1)/4*sr**2
  <= 0``, which the Pearson inequality ``kurtosis >= 1 + skew**2`` rules out) give NaN.

References
----------
.. [BLP12] Bailey, D. H. and López de Prado, M. (2012). "The Sharpe Ratio Efficient
   Frontier". *Journal of Risk* 15(2), 3-44. https://ssrn.com/abstract=1821643
.. [BLP14] Bailey, D. H. and López de Prado, M. (2014). "The Deflated Sharpe Ratio:
   Correcting for Selection Bias, Backtest Overfitting and Non-Normality". *Journal of
   Portfolio Management* 40(5), 94-107. https://ssrn.com/abstract=2460551
.. [M02] Mertens, E. (2002). "Comments on variance of the IID estimator in Lo (2002)".
   Working paper, University of Basel.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

from stratops.analytics.arrays import (
    ZERO_VARIANCE_RTOL,
    FloatArray,
    as_columns,
    as_returns,
    check_periods_per_year,
    check_probability,
    per_column_result,
    scalar_or_array,
)

__all__ = [
    "EULER_MASCHERONI",
    "SampleMoments",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "min_track_record_length",
    "per_period_sharpe",
    "probabilistic_sharpe_ratio",
    "sample_moments",
    "sharpe_ratio",
]

EULER_MASCHERONI: Final[float] = 0.5772156649015329
"""The Euler-Mascheroni constant, used by :func:`expected_max_sharpe`."""


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
    x = as_returns(returns)
    return per_column_result(_per_period_sharpe_columns(as_columns(x)), x.ndim)


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
    scale = 1.0 if periods_per_year is None else check_periods_per_year(periods_per_year)
    x = as_returns(returns)
    sr = _per_period_sharpe_columns(as_columns(x)) * np.sqrt(scale)
    return per_column_result(sr, x.ndim)


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
    x = as_returns(returns)
    if x.ndim != 1:
        raise ValueError(
            f"sample_moments takes one series (1-D); got shape {x.shape}. Call it per column."
        )
    mom = _column_moments(as_columns(x), higher=True)
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
    return scalar_or_array(np.where(valid, psr, np.nan))


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
    return scalar_or_array(np.asarray(np.where(n == 1.0, v * 0.0, emax), dtype=np.float64))


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
    z = float(ndtri(check_probability(confidence, "confidence")))
    sr_ = np.asarray(sr, dtype=np.float64)
    benchmark = np.asarray(sr_benchmark, dtype=np.float64)
    radicand = _sr_variance_term(
        sr_, np.asarray(skew, dtype=np.float64), np.asarray(kurtosis, dtype=np.float64)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        length = 1.0 + radicand * (z / (sr_ - benchmark)) ** 2
    length = np.where(sr_ > benchmark, length, np.where(sr_ <= benchmark, np.inf, np.nan))
    length = np.where(radicand > 0.0, length, np.nan)
    return scalar_or_array(np.asarray(length, dtype=np.float64))
