r"""Edge decay or execution noise: sequential tests on a strategy's alpha and cost streams.

Two streams are watched per strategy: the paper alpha per unit of risk, against the backtest's
distribution (decay is a fall), and the execution shortfall in bps, against the pre-trade cost
model (degradation is a rise). Each is watched by a one-sided CUSUM and a Wald sequential
probability ratio test; :func:`diagnose` reads the two together:

=================  ==================  ===========================
alpha alarms       costs alarm         verdict
=================  ==================  ===========================
yes                no                  edge decay
no                 yes                 execution degradation
yes                yes                 regime shift
no                 no                  noise (with the headroom)
=================  ==================  ===========================

Plain functions over arrays; the outcomes are frozen values. No I/O, no state.

Conventions
-----------
Standardisation
    Observations are standardised as :math:`z_t = (x_t - \text{target}_t) / \sigma_t`;
    ``target`` and ``sigma`` are scalars or arrays the length of ``x`` (a per-trade expected
    cost and its uncertainty, say). ``k`` and ``h`` are in units of :math:`\sigma`.
Indices
    An alarm or decision is reported as the 0-based index of the observation that triggered
    it; its run length is ``index + 1``.

NaN policy
----------
* A NaN observation is a missing one: it leaves the CUSUM and the log-likelihood ratio
  unchanged.
* Infinite observations, ``sigma <= 0`` and parameters outside their range raise
  :class:`ValueError`.

References
----------
.. [P54] Page, E. S. (1954). "Continuous inspection schemes". *Biometrika* 41(1/2), 100-115.
.. [S85] Siegmund, D. (1985). *Sequential Analysis: Tests and Confidence Intervals*.
   Springer. The average run length approximation, as given in Montgomery, D. C. (2009),
   *Introduction to Statistical Quality Control*, 6th ed., section 9.1.
.. [W45] Wald, A. (1945). "Sequential tests of statistical hypotheses". *Annals of
   Mathematical Statistics* 16(2), 117-186.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SIEGMUND_CORRECTION",
    "DecayDiagnosis",
    "SPRTDecision",
    "SPRTResult",
    "Side",
    "StreamWatch",
    "Verdict",
    "cusum",
    "cusum_arl",
    "cusum_statistic",
    "diagnose",
    "sprt",
    "watch_alpha",
    "watch_costs",
    "watch_stream",
]

FloatArray = NDArray[np.float64]

SIEGMUND_CORRECTION: Final = 1.166
"""Siegmund's boundary correction, ``b = h + 1.166``, in :func:`cusum_arl`."""


class Side(StrEnum):
    """Which move of the mean a one-sided test watches for."""

    UPPER = "upper"
    LOWER = "lower"


def _standardised(
    x: ArrayLike, target: ArrayLike, sigma: ArrayLike, side: Side | str
) -> FloatArray:
    values = np.asarray(x, dtype=np.float64)
    if values.ndim not in (1, 2):
        raise ValueError(f"x must be 1-D (or 2-D, one series per column); got {values.shape}.")
    if np.isinf(values).any():
        raise ValueError("x contains an infinite value; mark a missing observation with NaN.")
    scale = np.asarray(sigma, dtype=np.float64)
    if not bool(np.all(scale > 0)):
        raise ValueError(
            f"sigma must be positive (the standard deviation of x under the target); got {sigma!r}."
        )
    z = (values - np.asarray(target, dtype=np.float64)) / scale
    side = Side(side)
    return np.asarray(z if side is Side.UPPER else -z, dtype=np.float64)


def _check_positive(value: float, name: str, allow_zero: bool = False) -> float:
    ok = value >= 0 if allow_zero else value > 0
    if isinstance(value, bool) or not (math.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")
    return float(value)


# --------------------------------------------------------------------------- CUSUM


def cusum_statistic(
    x: ArrayLike,
    target: ArrayLike,
    sigma: ArrayLike,
    k: float = 0.5,
    side: Side | str = Side.UPPER,
) -> FloatArray:
    r"""The one-sided CUSUM path of Page (1954) [P54]_, along axis 0.

    .. math:: S_0 = 0,\qquad S_t = \max(0,\; S_{t-1} + z_t - k)

    with :math:`z_t` the standardised observation (sign-flipped for ``side="lower"``).

    Parameters
    ----------
    x : array_like, shape (T,) or (T, N)
        Observations; NaN is a missing one (``S`` unchanged). Columns are separate series.
    target, sigma : float or array_like
        In-control mean and standard deviation, broadcast against ``x``.
    k : float, default 0.5
        Reference value (allowance) in sigmas, ``>= 0``: half the shift to detect.
    side : {"upper", "lower"}
        Watch for a rise (``upper``) or a fall (``lower``) of the mean.

    Returns
    -------
    ndarray
        :math:`S_t`, same shape as ``x``, ``>= 0``.

    Notes
    -----
    Vectorised with the closed form of the Lindley recursion: with
    :math:`C_t = \sum_{u \le t} (z_u - k)`, :math:`S_t = C_t - \min(0, \min_{u \le t} C_u)`.
    """
    allowance = _check_positive(k, "k", allow_zero=True)
    z = _standardised(x, target, sigma, side)
    steps = np.where(np.isnan(z), 0.0, z - allowance)
    climb = np.cumsum(steps, axis=0)
    floor = np.minimum(np.minimum.accumulate(climb, axis=0), 0.0)
    return np.asarray(np.maximum(climb - floor, 0.0), dtype=np.float64)


def cusum(
    x: ArrayLike,
    target: ArrayLike,
    sigma: ArrayLike,
    k: float = 0.5,
    h: float = 5.0,
    side: Side | str = Side.UPPER,
) -> int | None:
    """Index of the first CUSUM alarm (:math:`S_t > h`), or None without one.

    Parameters are those of :func:`cusum_statistic`, for one series (1-D ``x``), and the
    decision interval ``h > 0`` in sigmas. With the defaults (``k=0.5, h=5``) the average run
    length is about 930 observations in control and about 10.4 after a one-sigma shift
    (:func:`cusum_arl`).
    """
    limit = _check_positive(h, "h")
    if np.ndim(x) != 1:
        raise ValueError("cusum takes one series (1-D x); use cusum_statistic for several.")
    alarms = np.flatnonzero(cusum_statistic(x, target, sigma, k, side) > limit)
    return int(alarms[0]) if alarms.size else None


def cusum_arl(shift: float, k: float = 0.5, h: float = 5.0) -> float:
    r"""Siegmund's approximation of the average run length of a one-sided CUSUM.

    For normal observations whose mean has moved ``shift`` sigmas towards the watched side
    (0 in control), with :math:`\Delta = \text{shift} - k` and :math:`b = h + 1.166`
    [S85]_:

    .. math:: ARL \approx \frac{e^{-2\Delta b} + 2\Delta b - 1}{2\Delta^2}
              \quad (\Delta \ne 0), \qquad ARL \approx b^2 \quad (\Delta = 0).

    ``cusum_arl(0, 0.5, 5) = 938.2`` and ``cusum_arl(1, 0.5, 5) = 10.34``; the exact values
    (integral equation or Markov chain) are about 931 and 10.4: the approximation is within a
    few percent for :math:`h \ge 3`.
    """
    allowance = _check_positive(k, "k", allow_zero=True)
    b = _check_positive(h, "h") + SIEGMUND_CORRECTION
    delta = float(shift) - allowance
    if delta == 0.0:
        return b * b
    return (math.exp(-2.0 * delta * b) + 2.0 * delta * b - 1.0) / (2.0 * delta * delta)


# --------------------------------------------------------------------------- SPRT


class SPRTDecision(StrEnum):
    ACCEPT_H0 = "h0"
    ACCEPT_H1 = "h1"
    CONTINUE = "continue"


@dataclass(frozen=True)
class SPRTResult:
    """Outcome of :func:`sprt`."""

    decision: SPRTDecision
    index: int | None
    """Observation at which the decision was taken; None while it continues."""
    llr: float
    """Log-likelihood ratio at the decision (or after the last observation)."""
    lower: float
    """Accept H0 at or below this: ``log(beta / (1 - alpha))``."""
    upper: float
    """Accept H1 at or above this: ``log((1 - beta) / alpha)``."""


def sprt(
    x: ArrayLike,
    mu0: ArrayLike,
    mu1: ArrayLike,
    sigma: ArrayLike,
    alpha: float = 0.05,
    beta: float = 0.2,
) -> SPRTResult:
    r"""Wald's sequential probability ratio test of a normal mean, H0: ``mu0`` vs H1: ``mu1``.

    Wald (1945) [W45]_. After each observation the log-likelihood ratio

    .. math:: \Lambda_n = \sum_{t \le n} \frac{\mu_1 - \mu_0}{\sigma^2}
              \left(x_t - \frac{\mu_0 + \mu_1}{2}\right)

    is compared with :math:`A = \log\frac{1-\beta}{\alpha}` (accept H1) and
    :math:`B = \log\frac{\beta}{1-\alpha}` (accept H0); in between, the test continues.

    Parameters
    ----------
    x : array_like, shape (T,)
        Observations; NaN is a missing one.
    mu0, mu1 : float or array_like
        Means under H0 and H1 (per observation if arrays); ``mu1 != mu0``.
    sigma : float or array_like
        Known standard deviation, ``> 0``.
    alpha, beta : float
        Target probabilities of a false alarm (accepting H1 under H0) and of a miss, in (0, 1)
        with ``alpha + beta < 1``.

    Returns
    -------
    SPRTResult
        The first boundary crossed and where, or ``continue``.

    Notes
    -----
    Wald's bounds hold up to the overshoot of the boundary: the realised error rates satisfy
    :math:`\alpha' \le \alpha / (1 - \beta)` and :math:`\beta' \le \beta / (1 - \alpha)`.
    """
    for value, name in ((alpha, "alpha"), (beta, "beta")):
        if isinstance(value, bool) or not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1; got {value!r}.")
    if alpha + beta >= 1.0:
        raise ValueError(f"alpha + beta must be below 1; got {alpha} + {beta}.")
    values = np.asarray(x, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"sprt takes one series (1-D x); got shape {values.shape}.")
    if np.isinf(values).any():
        raise ValueError("x contains an infinite value; mark a missing observation with NaN.")
    m0 = np.asarray(mu0, dtype=np.float64)
    m1 = np.asarray(mu1, dtype=np.float64)
    scale = np.asarray(sigma, dtype=np.float64)
    if not bool(np.all(scale > 0)):
        raise ValueError(f"sigma must be positive; got {sigma!r}.")
    if bool(np.any(m0 == m1)):
        raise ValueError("mu1 must differ from mu0: the test tells two means apart.")
    upper = math.log((1.0 - beta) / alpha)
    lower = math.log(beta / (1.0 - alpha))
    steps = (m1 - m0) / (scale * scale) * (values - (m0 + m1) / 2.0)
    llr = np.cumsum(np.where(np.isnan(steps), 0.0, steps))
    crossed = np.flatnonzero((llr >= upper) | (llr <= lower))
    if crossed.size == 0:
        final = float(llr[-1]) if llr.size else 0.0
        return SPRTResult(SPRTDecision.CONTINUE, None, final, lower, upper)
    at = int(crossed[0])
    decision = SPRTDecision.ACCEPT_H1 if llr[at] >= upper else SPRTDecision.ACCEPT_H0
    return SPRTResult(decision, at, float(llr[at]), lower, upper)


# --------------------------------------------------------------------------- streams and verdict


@dataclass(frozen=True)
class StreamWatch:
    """One stream watched by a CUSUM and an SPRT (see :func:`watch_stream`)."""

    name: str
    side: Side
    n_obs: int
    h: float
    cusum_alarm: int | None
    """Index of the first CUSUM alarm, None without one."""
    cusum_peak: float
    """Highest CUSUM value reached (sigmas); an alarm is ``> h``."""
    cusum_last: float
    """CUSUM after the last observation."""
    sprt: SPRTResult

    @property
    def alarmed(self) -> bool:
        """The CUSUM alarmed or the SPRT accepted the shifted mean."""
        return self.cusum_alarm is not None or self.sprt.decision is SPRTDecision.ACCEPT_H1

    @property
    def first_alarm(self) -> int | None:
        """The earlier of the two alarms."""
        found = [i for i in (self.cusum_alarm, self._sprt_alarm) if i is not None]
        return min(found) if found else None

    @property
    def _sprt_alarm(self) -> int | None:
        return self.sprt.index if self.sprt.decision is SPRTDecision.ACCEPT_H1 else None

    @property
    def headroom(self) -> float:
        """How far the CUSUM is from an alarm now, ``h - S_last`` sigmas (<= 0 once alarmed)."""
        return self.h - self.cusum_last if self.cusum_alarm is None else 0.0

    def describe(self) -> str:
        """One line for people: the numbers behind the stream's state."""
        if self.cusum_alarm is not None:
            cusum_text = f"CUSUM alarm at observation {self.cusum_alarm} (> h={self.h:g})"
        else:
            cusum_text = (
                f"CUSUM {self.cusum_last:.2f} of h={self.h:g} ({self.headroom:.2f} from an alarm)"
            )
        test = self.sprt
        where = "" if test.index is None else f" at observation {test.index}"
        sprt_text = (
            f"SPRT {test.decision.value}{where} (llr {test.llr:.2f}, H1 at {test.upper:.2f})"
        )
        return f"{self.name}: {cusum_text}; {sprt_text}"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "side": self.side.value,
            "n_obs": self.n_obs,
            "alarmed": self.alarmed,
            "first_alarm": self.first_alarm,
            "cusum_alarm": self.cusum_alarm,
            "cusum_h": self.h,
            "cusum_peak": self.cusum_peak,
            "cusum_last": self.cusum_last,
            "headroom": self.headroom,
            "sprt_decision": self.sprt.decision.value,
            "sprt_index": self.sprt.index,
            "sprt_llr": self.sprt.llr,
        }


def watch_stream(
    x: ArrayLike,
    target: ArrayLike,
    sigma: ArrayLike,
    *,
    side: Side | str,
    shift: float = 1.0,
    k: float = 0.5,
    h: float = 5.0,
    alpha: float = 0.05,
    beta: float = 0.2,
    name: str = "stream",
) -> StreamWatch:
    """Watch one stream with a CUSUM (``k``, ``h``) and an SPRT of ``target`` vs a shift.

    The SPRT's H1 is the mean moved ``shift`` sigmas towards ``side``; ``k`` is usually
    ``shift / 2``. See :func:`cusum` and :func:`sprt` for the parameters.

    The SPRT decides once: after accepting H0 it stops, while the CUSUM, which is a sequence
    of such tests restarted at every acceptance [P54]_, keeps watching the whole stream.
    """
    side = Side(side)
    _check_positive(shift, "shift")
    path = cusum_statistic(x, target, sigma, k, side)
    if path.ndim != 1:
        raise ValueError("watch_stream takes one series (1-D x).")
    limit = _check_positive(h, "h")
    alarms = np.flatnonzero(path > limit)
    mu0 = np.asarray(target, dtype=np.float64)
    direction = 1.0 if side is Side.UPPER else -1.0
    mu1 = mu0 + direction * float(shift) * np.asarray(sigma, dtype=np.float64)
    return StreamWatch(
        name=name,
        side=side,
        n_obs=int(np.count_nonzero(~np.isnan(np.asarray(x, dtype=np.float64)))),
        h=limit,
        cusum_alarm=int(alarms[0]) if alarms.size else None,
        cusum_peak=float(path.max()) if path.size else 0.0,
        cusum_last=float(path[-1]) if path.size else 0.0,
        sprt=sprt(x, mu0, mu1, sigma, alpha, beta),
    )


def watch_alpha(
    alpha_per_risk: ArrayLike,
    backtest_mean: float,
    backtest_sigma: float,
    **options: float,
) -> StreamWatch:
    """Watch the paper alpha per unit of risk for a *fall* below the backtest's distribution.

    ``backtest_mean`` and ``backtest_sigma`` are the mean and standard deviation of the same
    quantity, per period, in the backtest. ``options`` are those of :func:`watch_stream`.
    """
    return watch_stream(
        alpha_per_risk, backtest_mean, backtest_sigma, side=Side.LOWER, name="alpha", **options
    )


def watch_costs(
    shortfall_bps: ArrayLike,
    expected_bps: ArrayLike,
    sigma_bps: ArrayLike,
    **options: float,
) -> StreamWatch:
    """Watch the execution shortfall (bps) for a *rise* above the pre-trade cost model.

    ``expected_bps`` and ``sigma_bps`` are the model's expected cost and its standard
    deviation, per observation (arrays) or shared (scalars). ``options`` are those of
    :func:`watch_stream`.
    """
    return watch_stream(
        shortfall_bps, expected_bps, sigma_bps, side=Side.UPPER, name="costs", **options
    )


class Verdict(StrEnum):
    """What the two streams say together."""

    EDGE_DECAY = "edge_decay"
    EXECUTION_DEGRADATION = "execution_degradation"
    REGIME_SHIFT = "regime_shift"
    NOISE = "noise"


@dataclass(frozen=True)
class DecayDiagnosis:
    """Outcome of :func:`diagnose`: the verdict, both streams, and the reason for people."""

    verdict: Verdict
    alpha: StreamWatch
    costs: StreamWatch

    @property
    def headroom(self) -> float:
        """Sigmas the nearer CUSUM is from an alarm (0 once one alarmed)."""
        return min(self.alpha.headroom, self.costs.headroom)

    @property
    def reason(self) -> str:
        return f"{self.verdict.value}: {self.alpha.describe()}; {self.costs.describe()}"

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "headroom": self.headroom,
            "alpha": self.alpha.as_dict(),
            "costs": self.costs.as_dict(),
        }


def diagnose(alpha: StreamWatch, costs: StreamWatch) -> DecayDiagnosis:
    """Edge decay, execution degradation, regime shift or noise, from the two streams."""
    if alpha.alarmed and costs.alarmed:
        verdict = Verdict.REGIME_SHIFT
    elif alpha.alarmed:
        verdict = Verdict.EDGE_DECAY
    elif costs.alarmed:
        verdict = Verdict.EXECUTION_DEGRADATION
    else:
        verdict = Verdict.NOISE
    return DecayDiagnosis(verdict=verdict, alpha=alpha, costs=costs)
