"""Tests of stratops.analytics.regimes: buckets, hourly measures, the profile as a value, and
the regimes of the real market.

The real-data checks use the packaged Binance BTC/USDT 1-minute candles
(``stratops/data/market/binance-spot-1m``, 2024-07-26 to 2024-08-25; source in that folder's
README), the same file as ``../shared/data/binance-spot-1m``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.analytics.regimes import (
    HOURS_PER_WEEK,
    NS_PER_HOUR,
    HourOfWeekProfile,
    RegimeRules,
    classify,
    hour_of_week,
    hour_of_week_profile,
    hourly_measures,
)
from stratops.model.analysis import Regime
from stratops.paper.datasets import load_dataset

MINUTE = 60 * 10**9


def _ns(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


@pytest.mark.parametrize(
    ("time", "bucket"),
    [
        ("2024-08-05 00:00", 0),  # a Monday
        ("2024-08-05 13:59:59", 13),
        ("2024-08-11 23:30", 167),  # a Sunday
        ("1970-01-01 00:00", 72),  # a Thursday
    ],
)
def test_hour_of_week(time: str, bucket: int) -> None:
    assert int(hour_of_week(np.array([_ns(time)]))[0]) == bucket
    assert int(hour_of_week(pd.DatetimeIndex([pd.Timestamp(time, tz="UTC")]))[0]) == bucket


def test_hourly_measures_of_minute_bars() -> None:
    start = _ns("2024-08-05 00:00")
    ts = start + MINUTE * np.arange(150)  # 2.5 hours: the last one is incomplete
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, ts.size)))
    volume = rng.uniform(1, 2, ts.size)
    quote_ts = start + np.array([1, 2, 3, 61]) * MINUTE
    bid, ask = np.array([99.0, 99.0, 99.0, 100.0]), np.array([101.0, 101.2, 101.0, 100.1])
    hourly = hourly_measures(ts, close, volume, MINUTE, quote_ts, bid, ask)
    assert list(hourly.index) == [pd.Timestamp("2024-08-05 00:00", tz="UTC"),
                                  pd.Timestamp("2024-08-05 01:00", tz="UTC")]  # fmt: skip
    r = np.diff(np.log(close))
    assert hourly["volume"].iloc[0] == pytest.approx(volume[:60].sum())
    assert hourly["volatility"].iloc[0] == pytest.approx(math.sqrt((r[:59] ** 2).sum()))
    assert hourly["volatility"].iloc[1] == pytest.approx(math.sqrt((r[59:119] ** 2).sum()))
    assert hourly["spread_bps"].iloc[0] == pytest.approx(200.0)  # median of 200, 220, 200 bps
    assert list(hourly["hour_of_week"]) == [0, 1]


def test_a_gap_is_not_a_return() -> None:
    ts = np.r_[np.arange(60), np.arange(120, 180)] * MINUTE
    close = np.r_[np.full(60, 100.0), np.full(60, 200.0)]
    hourly = hourly_measures(ts, close, np.ones(120), MINUTE)
    assert list(hourly["volatility"]) == [0.0, 0.0]
    with pytest.raises(ValueError, match="divide an hour"):
        hourly_measures(ts, close, np.ones(120), 7 * MINUTE)


def _synthetic_hourly(weeks: int) -> pd.DataFrame:
    start = _ns("2024-07-01 00:00")  # a Monday
    hours = start + NS_PER_HOUR * np.arange(weeks * HOURS_PER_WEEK)
    bucket = hour_of_week(hours)
    week = np.arange(hours.size) // HOURS_PER_WEEK
    volume = np.where(bucket < 24, 1.0, 10.0) + week  # Mondays thin (by construction)
    volume = np.where(bucket == 100, 40.0 + week, volume)  # Friday 04:00 peak
    return pd.DataFrame(
        {
            "volume": volume,
            "volatility": 0.01 * (1 + week),
            "spread_bps": 2.0,
            "hour_of_week": bucket,
        },
        index=pd.DatetimeIndex(hours.view("datetime64[ns]"), tz="UTC"),
    )


def test_profile_medians_over_the_trailing_window() -> None:
    profile = hour_of_week_profile(_synthetic_hourly(6), symbol="X")
    assert profile.samples == (4,) * HOURS_PER_WEEK
    # weeks 2..5 are in the window: the median of week + 10 is 13.5
    assert profile.values("volume")[30] == 13.5
    assert profile.values("volume")[0] == 4.5
    assert profile.values("volatility")[0] == pytest.approx(0.045)
    ratios = profile.ratios()
    assert ratios[30] == 1.0 and ratios[0] == pytest.approx(4.5 / 13.5)
    regimes = profile.regimes()
    assert (
        regimes[0] is Regime.THIN and regimes[100] is Regime.PEAK and regimes[30] is Regime.NORMAL
    )
    assert profile.regimes(RegimeRules(thin_below=0.3, peak_above=4.0))[0] is Regime.NORMAL
    short = hour_of_week_profile(_synthetic_hourly(6), window=pd.Timedelta(hours=24))
    assert sum(short.samples) == 24 and math.isnan(short.values("volume")[0])


def test_profile_is_a_value() -> None:
    profile = hour_of_week_profile(_synthetic_hourly(4), symbol="BTC/USDT")
    stored = json.loads(json.dumps(profile.for_storage()))
    again = HourOfWeekProfile.from_storage(stored)
    assert again == profile and again.digest() == profile.digest()
    assert hash(again) == hash(profile)
    changed = dict(stored, volume=[*stored["volume"][:-1], 99.0])
    assert HourOfWeekProfile.from_storage(changed).digest() != profile.digest()
    with pytest.raises(ValueError, match="format"):
        HourOfWeekProfile.from_storage({**stored, "format": "other"})


def test_overlays() -> None:
    profile = hour_of_week_profile(_synthetic_hourly(4))
    times = pd.DatetimeIndex(
        ["2024-08-05 07:55", "2024-08-05 07:54:59", "2024-08-10 23:57", "2024-08-11 12:00"],
        tz="UTC",
    )
    table = classify(profile, times, volatility=np.array([0.2, 0.01, math.nan, 0.05]))
    assert list(table["funding"]) == [True, False, True, False]
    assert list(table["weekend"]) == [False, False, True, True]
    assert list(table["shock"]) == [True, False, False, False]  # profile volatility 0.025
    assert list(table["regime"]) == ["thin", "thin", "normal", "normal"]
    assert not classify(profile, times).shock.any()
    with pytest.raises(ValueError, match="thin_below"):
        RegimeRules(thin_below=2.0, peak_above=1.5)


# --------------------------------------------------------------------------- the real market


@pytest.fixture(scope="module")
def btc_hourly() -> pd.DataFrame:
    market = load_dataset("binance-1m", symbols=["BTC/USDT"])
    return hourly_measures(market.ts, market.close[:, 0], market.volume[:, 0], market.step_ns)


def test_real_profile_is_deterministic(btc_hourly: pd.DataFrame) -> None:
    first = hour_of_week_profile(btc_hourly, symbol="BTC/USDT")
    second = hour_of_week_profile(btc_hourly.copy(), symbol="BTC/USDT")
    assert first.digest() == second.digest()
    assert first.samples == (4,) * HOURS_PER_WEEK  # 4 weeks, every hour complete


def test_the_night_into_sunday_is_thin(btc_hourly: pd.DataFrame) -> None:
    profile = hour_of_week_profile(btc_hourly, symbol="BTC/USDT")
    night = [24 * 5 + h for h in range(19, 24)] + [24 * 6 + h for h in range(7)]
    ratios = profile.ratios()[night]
    regimes = [profile.regimes()[b] for b in night]
    assert float(np.median(ratios)) < 0.5
    assert regimes.count(Regime.THIN) > len(night) / 2 and Regime.PEAK not in regimes
    weekend = profile.ratios()[24 * 5 :]
    assert float(np.median(weekend)) < 0.6 < float(np.median(profile.ratios()[: 24 * 5]))


def test_weekday_afternoons_are_peak(btc_hourly: pd.DataFrame) -> None:
    regimes = hour_of_week_profile(btc_hourly).regimes()
    for day in range(5):
        for hour in (13, 14, 15):  # 13:00-16:00 UTC, the US open
            assert regimes[24 * day + hour] is Regime.PEAK, (day, hour)


def test_the_crash_of_2024_08_05_is_a_shock(btc_hourly: pd.DataFrame) -> None:
    profile = hour_of_week_profile(btc_hourly)
    table = classify(profile, btc_hourly.index, btc_hourly["volatility"])
    per_day = table["shock"].groupby(table.index.strftime("%Y-%m-%d")).sum()
    assert per_day["2024-08-05"] >= 6
    assert per_day.drop("2024-08-05").max() <= 3


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 2**32),
    st.integers(-520, 520),
    st.floats(1e-3, 1e6),
)
def test_bucket_periodicity_and_unit_invariance(seconds: int, weeks: int, scale: float) -> None:
    t = np.array([seconds * 10**9], dtype=np.int64)
    assert hour_of_week(t + weeks * HOURS_PER_WEEK * NS_PER_HOUR)[0] == hour_of_week(t)[0]
    hourly = _synthetic_hourly(4)
    scaled = hourly.assign(volume=hourly["volume"] * scale)
    assert hour_of_week_profile(scaled).regimes() == hour_of_week_profile(hourly).regimes()
    np.testing.assert_allclose(
        hour_of_week_profile(scaled).ratios(), hour_of_week_profile(hourly).ratios(), rtol=1e-12
    )
