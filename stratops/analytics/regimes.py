r"""Market regimes: the hour-of-week profile that canary thresholds and alert rules share.

From candles (and quotes where captured) :func:`hourly_measures` computes, per complete UTC
clock hour, the traded volume, the realized volatility and the median quoted spread.
:func:`hour_of_week_profile` takes the median of each of the 168 hours of the week over a
trailing window (4 weeks by default): a :class:`HourOfWeekProfile`, a plain value that is
saved (:meth:`~HourOfWeekProfile.for_storage`), digested and shipped with the evidence.
:func:`classify` then labels moments:

Liquidity regime
    The ratio of the moment's bucket volume to the median over the profile's 168 buckets:
    **thin** below ``thin_below`` (0.5), **peak** above ``peak_above`` (1.5), **normal** in
    between (:class:`RegimeRules`). The regime is a property of the time of the week, known
    in advance, so thresholds can be chosen before a canary starts.
Event overlays
    *weekend* (Saturday or Sunday, UTC); *funding*: within ``funding_window`` of a perpetual
    funding settlement (00:00, 08:00, 16:00 UTC by default); *shock*: the moment's realized
    volatility above ``shock_multiple`` times its bucket's profile volatility.

On the packaged Binance BTC/USDT minute candles (July-August 2024) the night from Saturday to
Sunday is thin, weekdays 13:00-16:00 UTC are peak, and 2024-08-05 is a volatility shock.

Conventions
-----------
Time
    int64 nanoseconds since the epoch, UTC (or anything :func:`numpy.asarray` turns into
    ``datetime64[ns]``). Bars are stamped with their *open* time, as in
    :class:`stratops.paper.market.Market`; an hour is ``[HH:00, HH+1:00)``. Bucket 0 is
    Monday 00:00-01:00 UTC, bucket 167 Sunday 23:00-24:00.
Realized volatility
    Of an hour: :math:`\sqrt{\sum r_t^2}` over the log close-to-close returns of its bars (the
    hour's own standard deviation, not annualised); a return across a gap in the bars is not
    used.
Spread
    Quoted spread over the mid, ``1e4 * (ask - bid) / mid``, in bps; the median of an hour's
    quotes.

NaN policy
----------
* An hour with missing bars is incomplete and left out of the profile (a partial hour's
  volume is not an hour's volume).
* A bucket without an hour in the window is NaN, and so is its ratio; its regime is normal.
* Without quotes the spread is NaN throughout; without a volatility the shock overlay is False.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from stratops.model.analysis import Regime
from stratops.model.canonical import canonical_digest

__all__ = [
    "HOURS_PER_WEEK",
    "MEASURES",
    "WEEKDAYS",
    "HourOfWeekProfile",
    "Measure",
    "RegimeRules",
    "ShockHours",
    "classify",
    "hour_of_week",
    "hour_of_week_profile",
    "hourly_measures",
    "shocked",
]

FloatArray = NDArray[np.float64]
Int64Array = NDArray[np.int64]

HOURS_PER_WEEK: Final = 168
NS_PER_MINUTE: Final = 60 * 10**9
NS_PER_HOUR: Final = 3600 * 10**9
NS_PER_DAY: Final = 24 * NS_PER_HOUR
WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MEASURES: Final = ("volume", "volatility", "spread_bps")
Measure = Literal["volume", "volatility", "spread_bps"]
PROFILE_FORMAT: Final = "stratops.hour-of-week-profile/v1"
_EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday (Monday = 0)


def _as_ns(times: ArrayLike) -> Int64Array:
    """int64 nanoseconds since the epoch from ints, datetime64 or a (UTC) DatetimeIndex."""
    if isinstance(times, pd.DatetimeIndex):
        if times.tz is not None:
            times = times.tz_convert("UTC").tz_localize(None)
        return np.asarray(times.as_unit("ns").asi8, dtype=np.int64)
    array = np.asarray(times)
    if array.dtype.kind == "M":
        return np.asarray(array.astype("datetime64[ns]").view(np.int64), dtype=np.int64)
    return np.asarray(array, dtype=np.int64)


def hour_of_week(times: ArrayLike) -> Int64Array:
    """Bucket of each time: ``24 * weekday + hour`` in UTC, Monday 00:00 = 0, Sunday 23:00 = 167."""
    hours = _as_ns(times) // NS_PER_HOUR
    return np.asarray((hours + 24 * _EPOCH_WEEKDAY) % HOURS_PER_WEEK, dtype=np.int64)


# --------------------------------------------------------------------------- hourly measures


def hourly_measures(
    ts: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    step_ns: int,
    quote_ts: ArrayLike | None = None,
    bid: ArrayLike | None = None,
    ask: ArrayLike | None = None,
) -> pd.DataFrame:
    """Volume, realized volatility and median spread of every complete UTC hour of bars.

    Parameters
    ----------
    ts : array_like of int64 ns
        Bar open times, increasing, on a grid of ``step_ns`` (gaps allowed).
    close, volume : array_like
        Close price and traded volume (base currency) of each bar.
    step_ns : int
        Bar length in ns; it must divide an hour (1 s, 1 min, 5 min, 1 h, ...).
    quote_ts, bid, ask : array_like, optional
        Top-of-book quotes (receive times in ns, best bid and ask), for the spread.

    Returns
    -------
    pandas.DataFrame
        Indexed by the hour's start (``DatetimeIndex``, UTC), complete hours only (every bar of
        the hour present), with columns ``volume`` (sum), ``volatility`` (realized, see the
        module docstring), ``spread_bps`` (median, NaN without quotes in the hour) and
        ``hour_of_week``.

    Raises
    ------
    ValueError
        If ``step_ns`` does not divide an hour or the arrays differ in length.
    """
    if step_ns <= 0 or NS_PER_HOUR % step_ns:
        raise ValueError(
            f"step_ns must divide an hour (bars of 1 s to 1 h); got {step_ns}. Resample longer "
            f"bars to hours first."
        )
    times = _as_ns(ts)
    closes = np.asarray(close, dtype=np.float64)
    volumes = np.asarray(volume, dtype=np.float64)
    if not times.shape == closes.shape == volumes.shape:
        raise ValueError(
            f"ts, close and volume must have the same length; got {times.size}, {closes.size} "
            f"and {volumes.size}."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        log_close = np.log(closes)
    returns = np.full(times.size, np.nan)
    if times.size > 1:
        contiguous = np.diff(times) == step_ns
        returns[1:] = np.where(contiguous, np.diff(log_close), np.nan)
    hours = times // NS_PER_HOUR
    frame = pd.DataFrame({"hour": hours, "volume": volumes, "r2": returns * returns})
    grouped = frame.groupby("hour", sort=True)
    per_hour = pd.DataFrame(
        {
            "bars": grouped.size(),
            "volume": grouped["volume"].sum(),
            "volatility": np.sqrt(grouped["r2"].sum(min_count=1)),
        }
    )
    per_hour = per_hour[per_hour["bars"] == NS_PER_HOUR // step_ns]
    spread = pd.Series(np.nan, index=per_hour.index)
    if quote_ts is not None and bid is not None and ask is not None:
        bids = np.asarray(bid, dtype=np.float64)
        asks = np.asarray(ask, dtype=np.float64)
        quoted = pd.Series(2e4 * (asks - bids) / (asks + bids))
        by_hour = quoted.groupby(_as_ns(quote_ts) // NS_PER_HOUR).median()
        spread = by_hour.reindex(per_hour.index)
    hour_ns = per_hour.index.to_numpy(dtype=np.int64) * NS_PER_HOUR
    return pd.DataFrame(
        {
            "volume": per_hour["volume"].to_numpy(dtype=np.float64),
            "volatility": per_hour["volatility"].to_numpy(dtype=np.float64),
            "spread_bps": spread.to_numpy(dtype=np.float64),
            "hour_of_week": hour_of_week(hour_ns),
        },
        index=pd.DatetimeIndex(hour_ns.view("datetime64[ns]"), tz="UTC", name="hour"),
    )


# --------------------------------------------------------------------------- the profile


@dataclass(frozen=True)
class RegimeRules:
    """Where the regimes and overlays begin; the defaults are the product's."""

    thin_below: float = 0.5
    """Thin when the bucket's volume is below this fraction of the profile's median."""
    peak_above: float = 1.5
    """Peak when the bucket's volume is above this multiple of the profile's median."""
    shock_multiple: float = 3.0
    """Shock when the realized volatility is above this multiple of its bucket's."""
    funding_hours: tuple[int, ...] = (0, 8, 16)
    """UTC hours of the perpetual funding settlements."""
    funding_window_ns: int = 5 * NS_PER_MINUTE
    """Half-width of the funding overlay around a settlement."""

    def __post_init__(self) -> None:
        if not 0 < self.thin_below < self.peak_above:
            raise ValueError(
                f"regime rules need 0 < thin_below < peak_above; got thin_below="
                f"{self.thin_below}, peak_above={self.peak_above}."
            )
        if not self.shock_multiple > 0:
            raise ValueError(f"shock_multiple must be positive; got {self.shock_multiple}.")
        if any(not 0 <= h < 24 for h in self.funding_hours) or self.funding_window_ns < 0:
            raise ValueError(
                f"funding_hours must be UTC hours in 0..23 and funding_window_ns >= 0; got "
                f"{self.funding_hours} and {self.funding_window_ns}."
            )

    def regime(self, ratio: ArrayLike) -> list[Regime]:
        """The liquidity regime of each ratio (NaN is normal)."""
        values = np.asarray(ratio, dtype=np.float64)
        labels = np.where(
            values < self.thin_below,
            Regime.THIN.value,
            np.where(values > self.peak_above, Regime.PEAK.value, Regime.NORMAL.value),
        )
        return [Regime(label) for label in labels.ravel()]


def _bucket_values(values: Sequence[float | None]) -> tuple[float, ...]:
    if len(values) != HOURS_PER_WEEK:
        raise ValueError(f"a profile has {HOURS_PER_WEEK} buckets; got {len(values)}.")
    return tuple(float("nan") if v is None else float(v) for v in values)


@dataclass(frozen=True, eq=False)
class HourOfWeekProfile:
    """Median volume, realized volatility and spread of each of the 168 hours of the week.

    A value: it compares by content, round-trips through :meth:`for_storage` /
    :meth:`from_storage`, and :meth:`digest` is the sha256 of its canonical JSON, so evidence
    can name the profile its thresholds were chosen with.
    """

    symbol: str
    start_ns: int
    """First hour of the trailing window."""
    end_ns: int
    """End of the window (exclusive)."""
    volume: tuple[float, ...]
    volatility: tuple[float, ...]
    spread_bps: tuple[float, ...]
    samples: tuple[int, ...]
    """Complete hours behind each bucket."""

    def __post_init__(self) -> None:
        for name in (*MEASURES, "samples"):
            if len(getattr(self, name)) != HOURS_PER_WEEK:
                raise ValueError(f"profile {name} must have {HOURS_PER_WEEK} buckets.")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HourOfWeekProfile):
            return NotImplemented
        return self.for_storage() == other.for_storage()  # NaN buckets are equal (None)

    def __hash__(self) -> int:
        return hash(self.digest())

    def values(self, measure: Measure = "volume") -> FloatArray:
        """The 168 bucket values of ``measure`` (read-only)."""
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {', '.join(MEASURES)}; got {measure!r}.")
        array = np.asarray(getattr(self, measure), dtype=np.float64)
        array.setflags(write=False)
        return array

    def ratios(self, measure: Measure = "volume") -> FloatArray:
        """Each bucket over the median of the 168 buckets (NaN buckets ignored)."""
        values = self.values(measure)
        if np.isnan(values).all():
            return np.full(HOURS_PER_WEEK, np.nan)
        return np.asarray(values / np.nanmedian(values), dtype=np.float64)

    def regimes(self, rules: RegimeRules | None = None) -> list[Regime]:
        """Liquidity regime of each bucket, by its volume ratio."""
        return (rules or RegimeRules()).regime(self.ratios("volume"))

    def for_storage(self) -> dict[str, Any]:
        """Plain JSON-compatible form (NaN as None), the bytes :meth:`digest` is taken over."""

        def plain(values: tuple[float, ...]) -> list[float | None]:
            return [None if np.isnan(v) else v for v in values]

        return {
            "format": PROFILE_FORMAT,
            "symbol": self.symbol,
            "start": pd.Timestamp(self.start_ns, unit="ns", tz="UTC").isoformat(),
            "end": pd.Timestamp(self.end_ns, unit="ns", tz="UTC").isoformat(),
            "buckets": "24 * weekday + hour, UTC, Monday 00:00 = 0",
            "volume": plain(self.volume),
            "volatility": plain(self.volatility),
            "spread_bps": plain(self.spread_bps),
            "samples": list(self.samples),
        }

    @classmethod
    def from_storage(cls, data: Mapping[str, Any]) -> HourOfWeekProfile:
        """The profile saved by :meth:`for_storage`."""
        if data.get("format") != PROFILE_FORMAT:
            raise ValueError(
                f"not an hour-of-week profile: format {data.get('format')!r}, expected "
                f"{PROFILE_FORMAT!r}."
            )
        return cls(
            symbol=str(data["symbol"]),
            start_ns=pd.Timestamp(data["start"]).as_unit("ns").value,
            end_ns=pd.Timestamp(data["end"]).as_unit("ns").value,
            volume=_bucket_values(data["volume"]),
            volatility=_bucket_values(data["volatility"]),
            spread_bps=_bucket_values(data["spread_bps"]),
            samples=tuple(int(n) for n in data["samples"]),
        )

    def digest(self) -> str:
        """sha256 of the canonical JSON of :meth:`for_storage` (10 significant digits)."""
        return canonical_digest(self.for_storage())


def hour_of_week_profile(
    hourly: pd.DataFrame,
    *,
    symbol: str = "",
    window: pd.Timedelta = pd.Timedelta(weeks=4),
    end: pd.Timestamp | None = None,
) -> HourOfWeekProfile:
    """The hour-of-week profile of the hours of ``hourly`` in a trailing window.

    Parameters
    ----------
    hourly : pandas.DataFrame
        The table of :func:`hourly_measures`.
    symbol : str
        Symbol the profile describes (kept in the value).
    window : pandas.Timedelta, default 4 weeks
        Length of the trailing window; a whole number of weeks gives every bucket the same
        number of hours.
    end : pandas.Timestamp, optional
        End of the window (exclusive, UTC). Default: the end of the last hour in ``hourly``.

    Returns
    -------
    HourOfWeekProfile
        Per bucket, the median of each measure over the window's hours in that bucket.
    """
    if window <= pd.Timedelta(0):
        raise ValueError(f"window must be positive; got {window}.")
    hours = _as_ns(pd.DatetimeIndex(hourly.index))
    if end is None:
        end_ns = int(hours.max()) + NS_PER_HOUR if hours.size else 0
    else:
        end_ns = pd.Timestamp(end).tz_convert("UTC").as_unit("ns").value
    start_ns = end_ns - int(window.value)
    inside = hourly[(hours >= start_ns) & (hours < end_ns)]
    grouped = inside.groupby(hour_of_week(_as_ns(pd.DatetimeIndex(inside.index))))
    buckets = pd.RangeIndex(HOURS_PER_WEEK)
    medians = grouped[list(MEASURES)].median().reindex(buckets)
    counts = grouped.size().reindex(buckets, fill_value=0)
    return HourOfWeekProfile(
        symbol=symbol,
        start_ns=start_ns,
        end_ns=end_ns,
        volume=tuple(medians["volume"].to_numpy(dtype=np.float64).tolist()),
        volatility=tuple(medians["volatility"].to_numpy(dtype=np.float64).tolist()),
        spread_bps=tuple(medians["spread_bps"].to_numpy(dtype=np.float64).tolist()),
        samples=tuple(int(n) for n in counts.to_numpy()),
    )


# --------------------------------------------------------------------------- classification


def classify(
    profile: HourOfWeekProfile,
    times: ArrayLike,
    volatility: ArrayLike | None = None,
    rules: RegimeRules | None = None,
) -> pd.DataFrame:
    """Regime and event overlays of each moment.

    Parameters
    ----------
    profile : HourOfWeekProfile
        The profile the regimes come from.
    times : array_like
        The moments (ns, datetime64 or a UTC DatetimeIndex).
    volatility : array_like, optional
        Realized volatility of the hour each moment is in (the ``volatility`` column of
        :func:`hourly_measures`), for the shock overlay.
    rules : RegimeRules, optional
        Thresholds; the defaults otherwise.

    Returns
    -------
    pandas.DataFrame
        One row per moment, indexed by the moments (UTC): ``hour_of_week``,
        ``liquidity_ratio`` (the bucket's volume over the profile's median), ``regime``
        (``thin``/``normal``/``peak``), ``weekend``, ``funding``, ``volatility_ratio`` (NaN
        without a volatility) and ``shock``.
    """
    rules = rules or RegimeRules()
    ns = _as_ns(times)
    bucket = hour_of_week(ns)
    ratio = profile.ratios("volume")[bucket]
    weekday = bucket // 24
    into_day = ns % NS_PER_DAY
    settlements = np.asarray(rules.funding_hours, dtype=np.int64) * NS_PER_HOUR
    if settlements.size:
        apart = np.abs(into_day[:, np.newaxis] - settlements[np.newaxis, :])
        nearest = np.minimum(apart, NS_PER_DAY - apart).min(axis=1)
        funding = nearest <= rules.funding_window_ns
    else:
        funding = np.zeros(ns.size, dtype=bool)
    if volatility is None:
        vol_ratio = np.full(ns.size, np.nan)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            vol_ratio = (
                np.asarray(volatility, dtype=np.float64) / profile.values("volatility")[bucket]
            )
    return pd.DataFrame(
        {
            "hour_of_week": bucket,
            "liquidity_ratio": ratio,
            "regime": [r.value for r in rules.regime(ratio)],
            "weekend": weekday >= 5,
            "funding": funding,
            "volatility_ratio": vol_ratio,
            "shock": np.nan_to_num(vol_ratio, nan=0.0) > rules.shock_multiple,
        },
        index=pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC", name="time"),
    )


def shocked(
    profile: HourOfWeekProfile,
    hourly: pd.DataFrame | None,
    starts: ArrayLike,
    ends: ArrayLike,
    rules: RegimeRules | None = None,
) -> NDArray[np.bool_]:
    """Whether each window ``[start, end)`` overlaps an hour that :func:`classify` calls a
    *shock*: the canary judge's volatility-shock test of a measurement window, and the
    controller's of the trailing hour (``stratops_market_overlay``).

    Parameters
    ----------
    profile : HourOfWeekProfile
        The profile the hours' volatility is compared with.
    hourly : pandas.DataFrame or None
        The market's :func:`hourly_measures` (its ``volatility`` column); None or empty: no
        hour is a shock.
    starts, ends : array_like of int64 ns
        The windows.
    rules : RegimeRules, optional
        Thresholds; the defaults otherwise.

    Returns
    -------
    numpy.ndarray of bool
        One flag per window. An hour ``[h, h + 1h)`` overlaps ``[start, end)`` when
        ``start - 1h < h < end``.
    """
    return ShockHours.of(profile, hourly, rules).overlap(starts, ends)


@dataclass(frozen=True)
class ShockHours:
    """The hours of a market that :func:`classify` calls a *shock*, ready to test windows
    against (:meth:`overlap`): classifying every hour is the costly part, so whoever tests
    the same market again and again (the controller, each tick) keeps one."""

    hours: Int64Array  # the hours' starts, in order
    counts: Int64Array  # shock hours before each of them (one more entry: the total)

    @classmethod
    def of(
        cls,
        profile: HourOfWeekProfile,
        hourly: pd.DataFrame | None,
        rules: RegimeRules | None = None,
    ) -> ShockHours:
        """The shock hours of ``hourly`` (None or empty: none)."""
        if hourly is None or not len(hourly):
            return cls(np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
        index = pd.DatetimeIndex(hourly.index)
        volatility = hourly["volatility"].to_numpy(dtype=np.float64)
        flags = classify(profile, index, volatility=volatility, rules=rules)["shock"].to_numpy(bool)
        hours = _as_ns(index)
        order = np.argsort(hours, kind="stable")
        counts = np.r_[0, np.cumsum(flags[order].astype(np.int64))]
        return cls(hours[order], np.asarray(counts, dtype=np.int64))

    def overlap(self, starts: ArrayLike, ends: ArrayLike) -> NDArray[np.bool_]:
        """Whether each window ``[start, end)`` overlaps a shock hour (see :func:`shocked`)."""
        begin, finish = _as_ns(starts), _as_ns(ends)
        lo = np.searchsorted(self.hours, begin - NS_PER_HOUR, side="right")
        hi = np.searchsorted(self.hours, finish, side="left")
        return np.asarray(self.counts[hi] - self.counts[lo] > 0, dtype=np.bool_)
