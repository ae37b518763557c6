r"""Drawdowns of a 24/7 book: episodes, how unusual they are, and the analytic bounds.

Plain functions over arrays and pandas Series. No I/O, no state.

Conventions
-----------
Time
    A return series is a pandas Series of simple per-period returns indexed by UTC timestamps
    (``DatetimeIndex`` with ``tz=UTC``), strictly increasing. A timestamp marks the *end* of
    its period, as in :mod:`stratops.analytics.returns`: equity "at" ``t`` is the equity after
    the return of the period ending at ``t``. Resolution is native (minutes, hours, days):
    nothing is truncated to days and there is no business-day calendar. Where a rate per year
    is needed a year is 365 days.
Drawdown
    Of a compounding book, :func:`stratops.analytics.returns.log_drawdown` (the gates' maximum
    drawdown of a fixed allocation is :func:`stratops.analytics.returns.max_drawdown`):
    equity compounds from ``E_0 = 1``, a NaN return is a missing period (equity unchanged), the
    running peak includes ``E_0``. The initial equity is stamped one period before the first
    observation (the first spacing of the index), so a first-period loss has a peak (NaT for
    a series of a single observation, which has no spacing).
    ``depth`` is a fraction of the peak equity, ``<= 0``; the deepest episode's depth *is* the
    maximum drawdown of compounded equity, as ``empyrical.max_drawdown`` computes it.
Diagnosis
    :func:`diagnose_episodes` splits each episode's fall by failure mode (alpha, each
    execution cost, fees, funding: :mod:`stratops.analytics.attribution`'s parts over the
    capital), names the regimes it spanned and the incidents and halts that overlapped it. The
    events come in as a table (:data:`EVENT_COLUMNS`): reading the audit log is the caller's.
Analytic bounds
    :func:`expected_max_drawdown` and :func:`drawdown_bounds` model the cumulative return as
    ``X(t) = mu t + sigma W(t)`` (sums of i.i.d. normal returns) and report *positive*
    magnitudes in units of ``X`` (pass the mean and standard deviation of per-period log
    returns and ``1 - exp(-D)`` is the fraction of the peak), and times in periods.

NaN policy
----------
* NaN in ``returns`` is a missing period (equity unchanged); ``+-inf`` raises ``ValueError``.
* :func:`drawdown_probability` resamples the finite returns only; NaN without any.
* NaN in a scalar input of a formula propagates to a NaN result.

References
----------
.. [MIA04] Magdon-Ismail, M., Atiya, A. F., Pratap, A. and Abu-Mostafa, Y. S. (2004). "On
   the maximum drawdown of a Brownian motion". *Journal of Applied Probability* 41(1),
   147-161 (the ``Q_p`` and ``Q_n`` tables); Magdon-Ismail, M. and Atiya, A. (2004),
   "Maximum drawdown", *Risk* 17(10), 99-102.
.. [BLP14] Bailey, D. H. and López de Prado, M. (2014). "Stop-outs under serial correlation
   and the triple penance rule". *Journal of Risk* 18(2), 61-93.
   https://ssrn.com/abstract=2201302
.. [PR94] Politis, D. N. and Romano, J. P. (1994). "The stationary bootstrap". *Journal of the
   American Statistical Association* 89(428), 1303-1313.
"""

from __future__ import annotations

import hashlib
import math
from typing import Final, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import PchipInterpolator
from scipy.special import ndtri

from stratops.analytics.returns import log_drawdown

__all__ = [
    "EPISODE_COLUMNS",
    "EVENT_COLUMNS",
    "DrawdownBounds",
    "diagnose_episodes",
    "drawdown_bounds",
    "drawdown_episodes",
    "drawdown_probability",
    "episode_costs",
    "expected_max_drawdown",
    "seed_from_digests",
    "stationary_bootstrap_indices",
]

FloatArray = NDArray[np.float64]

EPISODE_COLUMNS: Final = (
    "peak",
    "trough",
    "recovery",
    "depth",
    "duration",
    "time_to_trough",
    "time_to_recover",
)

EVENT_COLUMNS: Final = ("start", "end", "kind", "label")
"""Columns of the incidents and halts :func:`diagnose_episodes` overlaps episodes with."""

AT_PEAK_TOLERANCE: Final = 1e-12
"""Equity within this (log) distance of its peak is at the peak: rounding is not a drawdown."""

_NO_TIMES: Final = np.empty(0, dtype=np.int64)

# Cells of resampled returns per chunk of bootstrap paths (8 MB of float64).
_BOOTSTRAP_CELLS: Final = 1_000_000


# --------------------------------------------------------------------------- input handling


def _as_utc_series(returns: pd.Series) -> tuple[NDArray[np.int64], FloatArray]:
    """Nanosecond timestamps and float returns of a UTC-indexed series, validated."""
    if not isinstance(returns, pd.Series):
        raise ValueError(
            f"returns must be a pandas Series indexed by UTC timestamps; got "
            f"{type(returns).__name__}. Build one with pd.Series(values, index=timestamps)."
        )
    index = returns.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError(
            "returns must be indexed by a tz-aware DatetimeIndex in UTC; got "
            f"{type(index).__name__} (tz={getattr(index, 'tz', None)}). Localize it with "
            ".tz_localize('UTC') or convert it with .tz_convert('UTC')."
        )
    times = np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    if times.size > 1 and not bool(np.all(np.diff(times) > 0)):
        raise ValueError(
            "returns' timestamps must be strictly increasing (sorted, no duplicates); sort "
            "the series with .sort_index() and aggregate repeated timestamps."
        )
    values = returns.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(
            f"returns contain {int(np.isinf(values).sum())} infinite value(s); returns must "
            f"be finite, mark a missing period with NaN."
        )
    return times, values


# --------------------------------------------------------------------------- episodes


def drawdown_episodes(returns: pd.Series) -> pd.DataFrame:
    r"""Every drawdown episode of a return series, deepest first.

    An episode starts when equity falls below its running peak and ends when it is back at
    the peak (the *recovery*), or at the end of the series while still under water.

    Parameters
    ----------
    returns : pandas.Series
        Simple per-period returns, indexed by strictly increasing UTC timestamps (period
        ends); NaN marks a missing period.

    Returns
    -------
    pandas.DataFrame
        One row per episode, columns :data:`EPISODE_COLUMNS`:

        ``peak``, ``trough``, ``recovery`` (datetime64[ns, UTC])
            Time of the last equity at the peak before the fall, of the lowest equity (the
            first time it is reached), and of the first equity back at the peak; ``recovery``
            is NaT while under water.
        ``depth`` (float)
            :math:`E_{trough}/E_{peak} - 1`, in ``[-1, 0)``.
        ``duration``, ``time_to_trough``, ``time_to_recover`` (timedelta64[ns])
            ``recovery - peak``, ``trough - peak`` and ``recovery - trough``. While under water
            ``duration`` runs to the last observation and ``time_to_recover`` is NaT.

        Sorted by depth (deepest first), ties by peak time; the index is 0..n-1. Empty (with
        these columns) when equity never falls below a previous peak.

    Raises
    ------
    ValueError
        If ``returns`` is not a Series with a UTC DatetimeIndex, its timestamps are not
        strictly increasing, or a return is infinite or below -1.

    Notes
    -----
    Vectorised: the runs under water are found from the edges of a boolean mask, their
    minima with ``np.minimum.reduceat``. Equity within :data:`AT_PEAK_TOLERANCE` (in log) of
    the peak counts as at the peak, so a loss exactly made good is a recovery despite rounding.
    The deepest depth equals ``empyrical.max_drawdown(returns)``.
    """
    times, values = _as_utc_series(returns)
    n = times.size
    if n == 0:
        return _episodes_frame(_NO_TIMES, _NO_TIMES, _NO_TIMES, np.empty(0))
    log_dd = log_drawdown(values)
    under = log_dd < -AT_PEAK_TOLERANCE
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # first index back at the peak (n if never)
    if starts.size == 0:
        return _episodes_frame(_NO_TIMES, _NO_TIMES, _NO_TIMES, np.empty(0))
    lows = np.minimum.reduceat(log_dd, starts)
    run_lows = np.repeat(lows, ends - starts)  # the runs, concatenated, are the under-water cells
    cells = np.flatnonzero(under)
    at_low = cells[log_dd[cells] == run_lows]
    troughs = at_low[np.searchsorted(at_low, starts)]

    nat = np.iinfo(np.int64).min
    origin = times[0] - (times[1] - times[0]) if n > 1 else nat
    peak_ns = np.where(starts > 0, times[np.maximum(starts - 1, 0)], origin)
    recovery_ns = np.where(ends < n, times[np.minimum(ends, n - 1)], nat)
    return _episodes_frame(peak_ns, times[troughs], recovery_ns, np.expm1(lows), int(times[-1]))


def _episodes_frame(
    peak_ns: NDArray[np.int64],
    trough_ns: NDArray[np.int64],
    recovery_ns: NDArray[np.int64],
    depth: FloatArray,
    last_ns: int = 0,
) -> pd.DataFrame:
    order = np.lexsort((peak_ns, depth))  # deepest first, then earliest
    peak = pd.DatetimeIndex(peak_ns[order].view("datetime64[ns]"), tz="UTC")
    trough = pd.DatetimeIndex(trough_ns[order].view("datetime64[ns]"), tz="UTC")
    recovery = pd.DatetimeIndex(recovery_ns[order].view("datetime64[ns]"), tz="UTC")
    end = recovery.where(recovery.notna(), pd.Timestamp(last_ns, unit="ns", tz="UTC"))
    frame = pd.DataFrame(
        {
            "peak": peak,
            "trough": trough,
            "recovery": recovery,
            "depth": depth[order].astype(np.float64),
            "duration": end - peak,
            "time_to_trough": trough - peak,
            "time_to_recover": recovery - trough,
        }
    )
    return frame.reset_index(drop=True)


def episode_costs(episodes: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """Per-episode sums of a per-period cost breakdown: the seam for diagnosing episodes.

    Parameters
    ----------
    episodes : pandas.DataFrame
        The table of :func:`drawdown_episodes`.
    costs : pandas.DataFrame
        One column per cost component (fees, slippage, funding, ...), in return units, indexed
        by the same UTC period-end timestamps as the returns.

    Returns
    -------
    pandas.DataFrame
        ``episodes`` with, per cost column ``c``, ``c_to_trough`` (sum over the periods
        after the peak up to and including the trough) and ``c_under_water`` (after the peak up
        to the recovery, or to the end while under water). Attribution by failure mode builds
        on these sums.
    """
    if not isinstance(costs.index, pd.DatetimeIndex) or costs.index.tz is None:
        raise ValueError("costs must be indexed by a tz-aware DatetimeIndex in UTC.")
    times = np.asarray(costs.index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    values = costs.to_numpy(dtype=np.float64, na_value=np.nan)
    cumulative = np.vstack([np.zeros((1, values.shape[1])), np.nancumsum(values, axis=0)])

    def upto(column: str) -> NDArray[np.intp]:
        stamps = pd.DatetimeIndex(episodes[column]).as_unit("ns").asi8
        stamps = np.where(pd.isna(episodes[column]).to_numpy(), np.iinfo(np.int64).max, stamps)
        return np.searchsorted(times, stamps, side="right")

    peak, trough, recovery = upto("peak"), upto("trough"), upto("recovery")
    result = episodes.copy()
    for j, name in enumerate(costs.columns):
        result[f"{name}_to_trough"] = cumulative[trough, j] - cumulative[peak, j]
        result[f"{name}_under_water"] = cumulative[recovery, j] - cumulative[peak, j]
    return result


def diagnose_episodes(
    episodes: pd.DataFrame,
    parts: pd.DataFrame,
    *,
    regimes: pd.Series | None = None,
    incidents: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each episode diagnosed by failure mode: what made its depth, when, and what overlapped.

    Parameters
    ----------
    episodes : pandas.DataFrame
        The table of :func:`drawdown_episodes`.
    parts : pandas.DataFrame
        Per-period PnL by failure mode in return units (fraction of the capital; negative
        lost), one column per mode, indexed by the returns' UTC period ends: the
        :data:`stratops.analytics.attribution.PARTS` of each period over the allocation.
    regimes : pandas.Series, optional
        The liquidity regime (a label) of each period, indexed like ``parts``.
    incidents : pandas.DataFrame, optional
        What happened to the deployment, one row per incident or halt: :data:`EVENT_COLUMNS`,
        ``start`` and ``end`` UTC timestamps (``end`` NaT while open; ``end = start`` for a
        halt, a moment), ``kind`` (``incident``, ``halt``, ...) and ``label`` (shown).

    Returns
    -------
    pandas.DataFrame
        ``episodes`` with the columns of :func:`episode_costs` for every mode, and
        ``dominant`` (the mode that lost the most from peak to trough; ties by name),
        ``regimes`` (sorted tuple of the regimes of the periods after the peak up to the
        episode's end), ``incidents`` (tuple of the labels of the incidents and halts that
        overlapped ``[peak, end]``, by start) and ``halts`` (how many of them are halts). An
        episode ends at its recovery, or at the last period while under water.
    """
    result = episode_costs(episodes, parts)
    modes = list(parts.columns)
    to_trough = result[[f"{m}_to_trough" for m in modes]].to_numpy(np.float64)
    order = np.argsort(np.asarray(modes, dtype=object), kind="stable")  # ties by name
    worst = order[np.argmin(to_trough[:, order], axis=1)] if to_trough.size else []
    result["dominant"] = [modes[i] for i in worst]
    peak = _stamps(episodes["peak"])
    end = _stamps(episodes["peak"] + episodes["duration"])
    result["regimes"] = _spanned(peak, end, regimes) if regimes is not None else [()] * len(peak)
    found, halts = _overlaps(peak, end, incidents)
    result["incidents"] = found
    result["halts"] = np.asarray(halts, dtype=np.int64)
    return result


def _stamps(values: pd.Series) -> NDArray[np.int64]:
    return np.asarray(pd.DatetimeIndex(values).as_unit("ns").asi8, dtype=np.int64)


def _spanned(
    peak: NDArray[np.int64], end: NDArray[np.int64], regimes: pd.Series
) -> list[tuple[str, ...]]:
    """Per episode, the labels of ``regimes`` in ``(peak, end]``: a running count per label."""
    times = np.asarray(pd.DatetimeIndex(regimes.index).as_unit("ns").asi8, dtype=np.int64)
    labels, codes = np.unique(regimes.astype(str).to_numpy(), return_inverse=True)
    counts = np.zeros((times.size + 1, labels.size), dtype=np.int64)
    counts[np.arange(1, times.size + 1), codes] = 1
    counts = np.cumsum(counts, axis=0)
    low = np.searchsorted(times, peak, side="right")
    high = np.searchsorted(times, end, side="right")
    present = (counts[high] - counts[low]) > 0
    return [tuple(labels[row]) for row in present]


def _overlaps(
    peak: NDArray[np.int64], end: NDArray[np.int64], incidents: pd.DataFrame | None
) -> tuple[list[tuple[str, ...]], list[int]]:
    if incidents is None or incidents.empty:
        return [()] * peak.size, [0] * peak.size
    missing = [c for c in EVENT_COLUMNS if c not in incidents.columns]
    if missing:
        raise ValueError(f"incidents lack columns {missing}; expected {list(EVENT_COLUMNS)}")
    table = incidents.sort_values("start", kind="stable")
    start = _stamps(table["start"])
    stop = np.where(table["end"].isna(), np.iinfo(np.int64).max, _stamps(table["end"]))
    hit = (start[None, :] <= end[:, None]) & (stop[None, :] >= peak[:, None])
    labels = table["label"].astype(str).to_numpy()
    halt = (table["kind"] == "halt").to_numpy(bool)
    return [tuple(labels[row]) for row in hit], (hit & halt[None, :]).sum(axis=1).tolist()


# --------------------------------------------------------------------------- bootstrap


def seed_from_digests(*digests: str) -> int:
    """A 63-bit seed from input digests (sha256 hex strings, in order): same inputs, same draws."""
    joined = "\n".join(digests).encode("utf-8")
    return int.from_bytes(hashlib.sha256(joined).digest()[:8], "big") >> 1


def stationary_bootstrap_indices(
    n_obs: int, n_paths: int, n_periods: int, mean_block: float, rng: np.random.Generator
) -> NDArray[np.intp]:
    """Indices (``n_paths x n_periods``) of stationary-bootstrap resamples of ``n_obs`` values.

    Politis & Romano (1994) [PR94]_: each path starts at a uniform index; each next period
    either continues the current block (the next index, wrapping around) or, with probability
    ``1 / mean_block``, starts a new block at a uniform index. Block lengths are geometric with
    mean ``mean_block``, and the resampled series is stationary.
    """
    t = np.arange(n_periods)
    new_block = rng.random((n_paths, n_periods)) < 1.0 / mean_block
    new_block[:, 0] = True
    block_starts = rng.integers(0, n_obs, size=(n_paths, n_periods))
    last = np.maximum.accumulate(np.where(new_block, t, 0), axis=1)
    start_of_block = np.take_along_axis(block_starts, last, axis=1)
    return np.asarray((start_of_block + (t - last)) % n_obs, dtype=np.intp)


def drawdown_probability(
    returns: ArrayLike,
    depth: float,
    *,
    n_periods: int | None = None,
    n_paths: int = 2000,
    mean_block: float | None = None,
    seed: int | None = None,
) -> float:
    r"""Probability of a maximum drawdown at least as deep as ``depth`` under ``returns``.

    The returns (e.g. the backtest's) are resampled by the stationary block bootstrap
    [PR94]_, which keeps their distribution and short-range serial dependence; the result is
    the fraction of ``n_paths`` resampled paths of ``n_periods`` whose maximum drawdown (the
    product's drawdown, compounded) is ``<= depth``.

    Parameters
    ----------
    returns : array_like, shape (T,)
        Per-period simple returns the paths are drawn from; NaN are dropped.
    depth : float
        Depth of the episode to judge, ``<= 0`` as in :func:`drawdown_episodes`.
    n_periods : int, optional
        Length of each path: the length of the track record the episode happened in (a week
        of canary, say). Default: ``T``.
    n_paths : int, default 2000
        Number of resampled paths; the standard error of the probability is at most
        ``0.5 / sqrt(n_paths)``.
    mean_block : float, optional
        Mean block length in periods, ``>= 1``. Default ``ceil(T ** (1/3))``, the order of
        the optimal block length (Politis, D. N. and White, H. (2004), "Automatic
        block-length selection for the dependent bootstrap", *Econometric Reviews* 23(1)).
    seed : int, optional
        Seed of the draws. Default: from the sha256 of the returns' bytes, so the same returns
        give the same probability; pass :func:`seed_from_digests` of the evidence digests to
        tie the draws to a report's inputs.

    Returns
    -------
    float
        In ``[0, 1]``. NaN if ``returns`` has no finite value or ``depth`` is NaN.

    Raises
    ------
    ValueError
        If ``depth > 0``, ``n_paths`` or ``n_periods`` is below 1, ``mean_block`` below 1, or
        a return is infinite or below -1.

    Notes
    -----
    Paths are generated and measured in chunks of about a million cells, vectorised. The
    draws depend only on the seed, ``T``, ``n_periods``, ``n_paths`` and ``mean_block``.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"returns must be one series (1-D); got shape {x.shape}.")
    if np.isinf(x).any():
        raise ValueError("returns contain an infinite value; mark a missing period with NaN.")
    if depth > 0:
        raise ValueError(f"depth is a drawdown, <= 0 (e.g. -0.12 for 12 %); got {depth!r}.")
    finite = x[np.isfinite(x)]
    if finite.size == 0 or math.isnan(depth):
        return math.nan
    length = finite.size if n_periods is None else int(n_periods)
    block = math.ceil(finite.size ** (1.0 / 3.0)) if mean_block is None else float(mean_block)
    if length < 1 or n_paths < 1 or not block >= 1.0:
        raise ValueError(
            f"n_periods ({length}), n_paths ({n_paths}) and mean_block ({block}) must be >= 1."
        )
    if seed is None:
        seed = seed_from_digests(hashlib.sha256(finite.astype("<f8").tobytes()).hexdigest())
    rng = np.random.Generator(np.random.PCG64(seed))
    threshold = math.log1p(depth) if depth > -1.0 else -math.inf
    chunk = max(1, _BOOTSTRAP_CELLS // length)
    hits = 0
    for done in range(0, n_paths, chunk):
        m = min(chunk, n_paths - done)
        paths = finite[stationary_bootstrap_indices(finite.size, m, length, block, rng)]
        worst = log_drawdown(paths.T).min(axis=0)
        hits += int(np.count_nonzero(worst <= threshold + AT_PEAK_TOLERANCE))
    return hits / n_paths


# --------------------------------------------------------------------------- analytic bounds

# [MIA04], tables of Q_p (mu > 0) and Q_n (mu < 0) against x = mu^2 T / (2 sigma^2).
_QP_X: Final = np.array(
    [0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02,
     0.0225, 0.025, 0.0275, 0.03, 0.0325, 0.035, 0.0375, 0.04, 0.0425, 0.045, 0.05, 0.06, 0.07,
     0.08, 0.09, 0.1, 0.2, 0.3, 0.4, 0.5, 1.5, 2.5, 3.5, 4.5, 10, 20, 30, 40, 50, 150, 250, 350,
     450, 1000, 2000, 3000, 4000, 5000]
)  # fmt: skip
_QP: Final = np.array(
    [0.019690, 0.027694, 0.033789, 0.038896, 0.043372, 0.060721, 0.073808, 0.084693, 0.094171,
     0.102651, 0.110375, 0.117503, 0.124142, 0.130374, 0.136259, 0.141842, 0.147162, 0.152249,
     0.157127, 0.161817, 0.166337, 0.170702, 0.179015, 0.194248, 0.207999, 0.220581, 0.232212,
     0.243050, 0.325071, 0.382016, 0.426452, 0.463159, 0.668992, 0.775976, 0.849298, 0.905305,
     1.088998, 1.253794, 1.351794, 1.421860, 1.476457, 1.747485, 1.874323, 1.958037, 2.020630,
     2.219765, 2.392826, 2.494109, 2.565985, 2.621743]
)  # fmt: skip
_QN_X: Final = np.array(
    [0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02,
     0.0225, 0.025, 0.0275, 0.03, 0.0325, 0.035, 0.0375, 0.04, 0.0425, 0.045, 0.0475, 0.05,
     0.055, 0.06, 0.065, 0.07, 0.075, 0.08, 0.085, 0.09, 0.095, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35,
     0.4, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
)  # fmt: skip
_QN: Final = np.array(
    [0.019965, 0.028394, 0.034874, 0.040369, 0.045256, 0.064633, 0.079746, 0.092708, 0.104259,
     0.114814, 0.124608, 0.133772, 0.142429, 0.150739, 0.158565, 0.166229, 0.173756, 0.180793,
     0.187739, 0.194489, 0.201094, 0.207572, 0.213877, 0.220056, 0.231797, 0.243374, 0.254585,
     0.265472, 0.276070, 0.286406, 0.296507, 0.306393, 0.316066, 0.325586, 0.413136, 0.491599,
     0.564333, 0.633007, 0.698849, 0.762455, 0.884593, 1.445520, 1.970740, 2.483960, 2.990940,
     3.492520, 3.995190, 4.492380, 4.990430, 5.498820]
)  # fmt: skip
_GAMMA: Final = math.sqrt(math.pi / 8.0)  # Q_p(x) ~ Q_n(x) ~ gamma sqrt(2x) as x -> 0
_QP_CURVE: Final = PchipInterpolator(np.log(_QP_X), _QP)
_QN_CURVE: Final = PchipInterpolator(np.log(_QN_X), _QN)


def _q_function(x: FloatArray, positive: bool) -> FloatArray:
    """``Q_p(x)`` (``positive``) or ``Q_n(x)``: table, with the paper's asymptotes outside it."""
    table_x, curve = (_QP_X, _QP_CURVE) if positive else (_QN_X, _QN_CURVE)
    small = _GAMMA * np.sqrt(2.0 * x)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = curve(np.log(np.clip(x, table_x[0], table_x[-1])))
        large = 0.25 * np.log(x) + 0.49088 if positive else x + 0.5
    return np.asarray(
        np.where(x < table_x[0], small, np.where(x > table_x[-1], large, inside)),
        dtype=np.float64,
    )


def expected_max_drawdown(
    mu: ArrayLike, sigma: ArrayLike, n_periods: ArrayLike
) -> float | FloatArray:
    r"""Expected maximum drawdown of a Brownian motion with drift, as a positive magnitude.

    Magdon-Ismail, Atiya, Pratap & Abu-Mostafa (2004) [MIA04]_, for
    :math:`X(t) = \mu t + \sigma W(t)` over :math:`T` periods, with
    :math:`x = \mu^2 T / (2\sigma^2)`:

    .. math::
        E[MDD] = \begin{cases}
            \frac{2\sigma^2}{\mu}\, Q_p(x) & \mu > 0 \\
            \sqrt{\pi/2}\;\sigma\sqrt{T} \approx 1.2533\,\sigma\sqrt{T} & \mu = 0 \\
            -\frac{2\sigma^2}{\mu}\, Q_n(x) & \mu < 0
        \end{cases}

    Parameters
    ----------
    mu : float or array_like
        Mean return per period (of log returns, for log equity).
    sigma : float or array_like
        Standard deviation of the return per period, ``> 0``.
    n_periods : float or array_like
        Horizon :math:`T` in periods, ``>= 0``.

    Returns
    -------
    float or ndarray
        :math:`E[MDD]` in units of :math:`X` (positive). Arrays broadcast. NaN if an input is
        NaN, ``sigma <= 0`` or ``n_periods < 0``.

    Notes
    -----
    :math:`Q_p` and :math:`Q_n` are the paper's tables, interpolated by a monotone cubic
    (PCHIP) in :math:`\log x`; outside them the paper's asymptotes apply:
    :math:`Q_p(x) \approx Q_n(x) \approx \gamma\sqrt{2x}`, :math:`\gamma = \sqrt{\pi/8}`, for
    :math:`x < 0.0005`; :math:`Q_p(x) \approx \frac14 \log x + 0.49088` for :math:`x > 5000`;
    :math:`Q_n(x) \approx x + \frac12` for :math:`x > 5`. The small-:math:`x` branch is
    :math:`2\gamma\sigma\sqrt T = \sqrt{\pi/2}\,\sigma\sqrt T` whatever the sign of
    :math:`\mu`, which makes the three cases continuous at :math:`\mu = 0`. Large
    :math:`T`: logarithmic growth for :math:`\mu > 0`, square root for :math:`\mu = 0`, linear
    (:math:`|\mu| T`) for :math:`\mu < 0`. A discrete series of :math:`T` returns has a
    slightly smaller expected maximum drawdown than the continuous path.
    """
    mu_ = np.asarray(mu, dtype=np.float64)
    sigma_ = np.asarray(sigma, dtype=np.float64)
    horizon = np.asarray(n_periods, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = mu_ * mu_ * horizon / (2.0 * sigma_ * sigma_)
        scale = 2.0 * sigma_ * sigma_ / np.abs(mu_)
        drifting = np.where(
            mu_ > 0, scale * _q_function(x, positive=True), scale * _q_function(x, positive=False)
        )
        # below the tables (mu = 0 included) both cases are 2 gamma sigma sqrt(T): computed
        # without dividing by a vanishing mu
        result = np.where(
            (x < _QP_X[0]) | (mu_ == 0), 2.0 * _GAMMA * sigma_ * np.sqrt(horizon), drifting
        )
    valid = (sigma_ > 0) & (horizon >= 0)
    result = np.where(valid, result, np.nan)
    result = np.where(valid & (horizon == 0), 0.0, result)
    out = np.asarray(result, dtype=np.float64)
    return float(out) if out.ndim == 0 else out


class DrawdownBounds(NamedTuple):
    """Outcome of :func:`drawdown_bounds`: magnitudes in return units, times in periods."""

    max_drawdown: float
    """Drawdown not exceeded at the confidence level, :math:`(z\\sigma)^2 / (4\\mu)` (positive)."""
    time_to_trough: float
    """Periods to that drawdown, :math:`t^* = (z\\sigma / (2\\mu))^2`."""
    time_under_water: float
    """Periods until the cumulative return is back to 0, :math:`(z\\sigma/\\mu)^2 = 4 t^*`."""
    time_to_recover: float
    """From the trough back to 0: :math:`3 t^*`, the "triple penance"."""


def drawdown_bounds(mu: float, sigma: float, confidence: float = 0.95) -> DrawdownBounds:
    r"""Maximum drawdown and time under water at a confidence level, for i.i.d. normal returns.

    Bailey & López de Prado (2014) [BLP14]_: the cumulative return after :math:`t` periods is
    :math:`N(\mu t, \sigma^2 t)`; its lower quantile :math:`\mu t - z_\alpha \sigma \sqrt t`,
    :math:`z_\alpha = \Phi^{-1}(\text{confidence})`, is lowest at
    :math:`t^* = (z_\alpha\sigma / 2\mu)^2`, where

    .. math::
        MaxDD_\alpha = \frac{(z_\alpha \sigma)^2}{4\mu}, \qquad
        MaxTuW_\alpha = \left(\frac{z_\alpha \sigma}{\mu}\right)^2 = 4 t^*

    so recovering from the trough takes :math:`3t^*`, three times as long as the fall: the
    "triple penance rule".

    Parameters
    ----------
    mu : float
        Mean return per period.
    sigma : float
        Standard deviation of the return per period, ``> 0``.
    confidence : float, default 0.95
        In (0.5, 1).

    Returns
    -------
    DrawdownBounds
        All ``inf`` when ``mu <= 0`` (a strategy without an edge has no bound); NaN if an
        input is NaN.

    Raises
    ------
    ValueError
        If ``confidence`` is not in (0.5, 1) or ``sigma <= 0``.
    """
    if isinstance(confidence, bool) or not 0.5 < confidence < 1.0:
        raise ValueError(
            f"confidence must lie strictly between 0.5 and 1 (0.95 is usual); got {confidence!r}."
        )
    if not sigma > 0 and not math.isnan(sigma):
        raise ValueError(f"sigma must be positive; got {sigma!r}.")
    if math.isnan(mu) or math.isnan(sigma):
        return DrawdownBounds(math.nan, math.nan, math.nan, math.nan)
    if mu <= 0:
        return DrawdownBounds(math.inf, math.inf, math.inf, math.inf)
    z_sigma = float(ndtri(confidence)) * sigma
    t_star = (z_sigma / (2.0 * mu)) ** 2
    return DrawdownBounds(
        max_drawdown=z_sigma**2 / (4.0 * mu),
        time_to_trough=t_star,
        time_under_water=4.0 * t_star,
        time_to_recover=3.0 * t_star,
    )
