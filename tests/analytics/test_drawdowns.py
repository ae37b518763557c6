"""Tests of stratops.analytics.drawdowns: hand-made cases, quantstats and empyrical, the papers.

Episodes are compared with ``quantstats.stats.drawdown_details`` on daily returns (quantstats
reports days, so that is where it is right) of the packaged Binance BTC/USDT hourly candles
(``stratops/data/market/binance-spot-1h``, source in that folder's README), and their depth with
``empyrical.max_drawdown``. The expected maximum drawdown is checked against the values of
Magdon-Ismail et al. (2004) and a seeded simulation; the triple penance rule against a numerical
minimisation of the normal quantile.
"""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pandas as pd
import pytest
import quantstats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from stratops.analytics.drawdowns import (
    EPISODE_COLUMNS,
    diagnose_episodes,
    drawdown_bounds,
    drawdown_episodes,
    drawdown_probability,
    episode_costs,
    expected_max_drawdown,
    seed_from_digests,
    stationary_bootstrap_indices,
)
from stratops.analytics.returns import log_drawdown
from stratops.paper.datasets import DEFAULT_DATA_DIR


def compounded_mdd(returns: np.ndarray) -> np.ndarray:
    """Maximum drawdown of compounded equity (``<= 0``), per column."""
    return np.expm1(
        np.min(log_drawdown(np.asarray(returns, dtype=np.float64)), axis=0, initial=0.0)
    )


def _series(values: list[float], freq: str = "1min", start: str = "2024-08-05") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq=freq, tz="UTC")
    return pd.Series(values, index=index, dtype=float)


def _btc_daily() -> pd.Series:
    frame = pd.read_feather(DEFAULT_DATA_DIR / "binance-spot-1h" / "BTC_USDT-1h.feather")
    close = frame.set_index(pd.DatetimeIndex(frame["date"]).tz_convert("UTC"))["close"]
    daily = close.resample("1D").last().dropna()
    return daily.pct_change().iloc[1:]


# --------------------------------------------------------------------------- episodes


def test_hand_made_episodes_at_minute_resolution() -> None:
    # equity: 1.1, 0.99, 1.1 (recovered), 1.21, 0.968, 1.0648 (still under water)
    r = _series([0.1, -0.1, 1.1 / 0.99 - 1, 0.1, -0.2, 0.1])
    ep = drawdown_episodes(r)
    assert list(ep.columns) == list(EPISODE_COLUMNS)
    assert len(ep) == 2
    t = r.index
    deepest, second = ep.iloc[0], ep.iloc[1]
    assert deepest["depth"] == pytest.approx(-0.2)
    assert deepest["peak"] == t[3] and deepest["trough"] == t[4]
    assert pd.isna(deepest["recovery"]) and pd.isna(deepest["time_to_recover"])
    assert deepest["duration"] == t[5] - t[3] == pd.Timedelta(minutes=2)
    assert second["depth"] == pytest.approx(-0.1)
    assert (second["peak"], second["trough"], second["recovery"]) == (t[0], t[1], t[2])
    assert second["time_to_trough"] == pd.Timedelta(minutes=1)
    assert second["time_to_recover"] == pd.Timedelta(minutes=1)
    assert second["duration"] == pd.Timedelta(minutes=2)


def test_first_period_loss_peaks_one_period_before() -> None:
    r = _series([-0.05, 0.02, 0.1], freq="1h")
    ep = drawdown_episodes(r)
    assert ep.loc[0, "peak"] == r.index[0] - pd.Timedelta(hours=1)
    assert ep.loc[0, "recovery"] == r.index[2]


def test_no_drawdown_and_empty() -> None:
    for values in ([], [0.01, 0.0, 0.02]):
        ep = drawdown_episodes(_series(values))
        assert ep.empty and list(ep.columns) == list(EPISODE_COLUMNS)


def test_exact_recovery_despite_rounding() -> None:
    r = _series([0.1, -0.1, 0.1 / 0.9 + 0.0])  # 1.1 * 0.9 * (1 + 1/9) = 1.1
    ep = drawdown_episodes(r)
    assert len(ep) == 1 and ep.loc[0, "recovery"] == r.index[2]


def test_nan_is_a_missing_period() -> None:
    ep = drawdown_episodes(_series([0.1, -0.1, math.nan, 0.2]))
    assert len(ep) == 1 and ep.loc[0, "trough"] == pd.Timestamp("2024-08-05 00:01", tz="UTC")


@pytest.mark.parametrize(
    ("returns", "message"),
    [
        (pd.Series([0.1], index=pd.date_range("2024", periods=1)), "UTC"),
        ([0.1, 0.2], "pandas Series"),
        (_series([0.1, 0.2]).iloc[::-1], "increasing"),
        (_series([0.1, math.inf]), "infinite"),
        (_series([0.1, -1.5]), "below -1"),
    ],
)
def test_bad_input_is_explained(returns: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        drawdown_episodes(returns)  # type: ignore[arg-type]


def test_matches_quantstats_and_empyrical_on_btc_days() -> None:
    r = _btc_daily()
    ep = drawdown_episodes(r)
    details = quantstats.stats.drawdown_details(quantstats.stats.to_drawdown_series(r))
    assert len(ep) == len(details) > 20
    theirs = details.sort_values("start").reset_index(drop=True)
    ours = ep.sort_values("peak").reset_index(drop=True)
    day = pd.Timedelta(days=1)
    np.testing.assert_allclose(ours["depth"] * 100, theirs["max drawdown"], rtol=1e-9)
    # quantstats: start = first day under water, end = last day under water (or the last day)
    assert list((ours["peak"] + day).dt.strftime("%Y-%m-%d")) == list(theirs["start"])
    assert list(ours["trough"].dt.strftime("%Y-%m-%d")) == list(theirs["valley"])
    end = ours["recovery"].where(ours["recovery"].notna(), r.index[-1] + day) - day
    assert list(end.dt.strftime("%Y-%m-%d")) == list(theirs["end"])
    assert ep.loc[0, "depth"] == pytest.approx(empyrical.max_drawdown(r.to_numpy()), rel=1e-12)
    assert ep.loc[0, "depth"] < -0.8  # the 2017-2018 bear market


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False) | st.just(math.nan),
        min_size=2,
        max_size=60,
    )
)
def test_episode_invariants(values: list[float]) -> None:
    r = _series(values)
    ep = drawdown_episodes(r)
    assert bool((ep["depth"] < 0).all() and (ep["depth"] >= -1).all())
    assert bool((ep["peak"] < ep["trough"]).all())
    recovered = ep["recovery"].notna()
    assert bool((ep.loc[recovered, "trough"] < ep.loc[recovered, "recovery"]).all())
    assert bool((ep["duration"] >= ep["time_to_trough"]).all())
    assert bool(ep["depth"].is_monotonic_increasing)
    assert int((~recovered).sum()) <= 1
    mdd = float(compounded_mdd(np.asarray(values, dtype=np.float64)))
    if ep.empty:
        assert mdd > -1e-12
    else:
        assert ep.loc[0, "depth"] == pytest.approx(mdd, rel=1e-9, abs=1e-15)
        # episodes do not overlap: sorted by peak, each starts at or after the last recovery
        chrono = ep.sort_values("peak")
        assert bool((chrono["peak"].iloc[1:].to_numpy() >= chrono["recovery"].iloc[:-1]).all())


def test_episode_costs_sum_between_peak_and_trough() -> None:
    r = _series([0.1, -0.05, -0.05, 0.2, 0.0])
    costs = pd.DataFrame({"fees": [1.0, 2.0, 3.0, 4.0, 5.0]}, index=r.index)
    table = episode_costs(drawdown_episodes(r), costs)
    assert table.loc[0, "fees_to_trough"] == 2.0 + 3.0
    assert table.loc[0, "fees_under_water"] == 2.0 + 3.0 + 4.0


def test_episodes_diagnosed_by_failure_mode_regime_and_incident() -> None:
    # two episodes: 00:01-00:03 (deep, made by alpha, thin then peak) and 00:05- (spread,
    # under water at the end)
    alpha = [0.01, -0.03, -0.02, 0.06, 0.0, 0.0, -0.001]
    spread = [0.0, -0.001, -0.001, 0.0, 0.0, -0.004, -0.003]
    r = _series([a + c for a, c in zip(alpha, spread, strict=True)])
    parts = pd.DataFrame({"alpha": alpha, "spread": spread}, index=r.index)
    regimes = pd.Series(["normal", "thin", "peak", "normal", "normal", "thin", "thin"], r.index)
    t = r.index
    incidents = pd.DataFrame(
        {
            "start": [t[1], t[2], t[4], t[6]],
            "end": [t[2], t[2], t[4], pd.NaT],
            "kind": ["incident", "halt", "incident", "halt"],
            "label": ["#7 venue lag", "halt flatten", "#8 before", "halt hold"],
        }
    )
    table = diagnose_episodes(drawdown_episodes(r), parts, regimes=regimes, incidents=incidents)
    first, second = table.iloc[0], table.iloc[1]
    assert first["peak"] == t[0] and first["recovery"] == t[3]
    assert first["alpha_to_trough"] == pytest.approx(-0.05)
    assert first["spread_to_trough"] == pytest.approx(-0.002)
    assert first["dominant"] == "alpha" and second["dominant"] == "spread"
    assert first["regimes"] == ("normal", "peak", "thin")  # (peak, recovery]
    assert first["incidents"] == ("#7 venue lag", "halt flatten") and first["halts"] == 1
    assert pd.isna(second["recovery"]) and second["regimes"] == ("thin",)
    # the second fell after 00:05 (its peak is 00:04) and is still under water: the open halt
    assert second["incidents"] == ("#8 before", "halt hold") and second["halts"] == 1
    # the fall's parts add up to the returns summed over it
    lost = r.iloc[1:3].sum()
    assert first["alpha_to_trough"] + first["spread_to_trough"] == pytest.approx(lost)


def test_diagnosis_without_regimes_or_events_and_bad_events() -> None:
    r = _series([0.1, -0.05, 0.2])
    parts = pd.DataFrame({"fees": [0.0, -0.05, 0.0], "alpha": [0.1, 0.0, 0.2]}, index=r.index)
    table = diagnose_episodes(drawdown_episodes(r), parts)
    assert table.loc[0, "dominant"] == "fees"
    assert table.loc[0, "regimes"] == () and table.loc[0, "incidents"] == ()
    assert table.loc[0, "halts"] == 0
    with pytest.raises(ValueError, match=r"incidents lack columns \['kind', 'label'\]"):
        diagnose_episodes(
            drawdown_episodes(r),
            parts,
            incidents=pd.DataFrame({"start": [r.index[0]], "end": [pd.NaT]}),
        )


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_indices_blocks() -> None:
    rng = np.random.Generator(np.random.PCG64(7))
    idx = stationary_bootstrap_indices(50, 400, 200, 5.0, rng)
    assert idx.shape == (400, 200) and idx.min() >= 0 and idx.max() < 50
    continues = (idx[:, 1:] - idx[:, :-1]) % 50 == 1
    assert 1 - continues.mean() == pytest.approx(1 / 5 * (1 - 1 / 50), abs=0.01)


def test_bootstrap_probability_deterministic_and_monotone() -> None:
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0005, 0.01, 500)
    observed = compounded_mdd(returns)
    p = drawdown_probability(returns, observed)
    assert p == drawdown_probability(returns, observed)  # seeded from the returns' bytes
    assert 0.0 < p < 1.0
    assert drawdown_probability(returns, observed, seed=seed_from_digests("a", "b")) != p
    deeper = drawdown_probability(returns, 2 * observed)
    assert deeper < p < drawdown_probability(returns, observed / 2)
    assert drawdown_probability(returns, 0.0) == 1.0
    assert drawdown_probability(returns, -1.0) == 0.0
    assert math.isnan(drawdown_probability([math.nan], -0.1))


def test_iid_bootstrap_matches_the_normal_model() -> None:
    # mean_block=1 resamples i.i.d.; the median MDD of paths must match the parametric one
    rng = np.random.default_rng(11)
    returns = rng.normal(0.0, 0.01, 2000)
    sims = rng.normal(0.0, 0.01, (2000, 250))
    median = float(np.median(compounded_mdd(sims.T)))
    p = drawdown_probability(returns, median, n_periods=250, mean_block=1.0, n_paths=2000)
    assert p == pytest.approx(0.5, abs=0.05)


def test_bootstrap_bad_input() -> None:
    with pytest.raises(ValueError, match="<= 0"):
        drawdown_probability([0.01], 0.1)
    with pytest.raises(ValueError, match=">= 1"):
        drawdown_probability([0.01], -0.1, n_paths=0)


# --------------------------------------------------------------------------- analytic bounds


def test_expected_max_drawdown_without_drift() -> None:
    assert expected_max_drawdown(0.0, 0.02, 365) == pytest.approx(1.2533141 * 0.02 * math.sqrt(365))


@pytest.mark.parametrize(("x", "q_p"), [(0.0005, 0.019690), (0.5, 0.463159), (1.5, 0.668992)])
def test_expected_max_drawdown_reproduces_the_qp_table(x: float, q_p: float) -> None:
    mu, sigma = 0.001, 0.02
    horizon = x * 2 * sigma**2 / mu**2
    assert expected_max_drawdown(mu, sigma, horizon) == pytest.approx(2 * sigma**2 / mu * q_p)


@pytest.mark.parametrize(("x", "q_n"), [(0.1, 0.325586), (2.0, 2.483960)])
def test_expected_max_drawdown_reproduces_the_qn_table(x: float, q_n: float) -> None:
    mu, sigma = -0.001, 0.02
    horizon = x * 2 * sigma**2 / mu**2
    assert expected_max_drawdown(mu, sigma, horizon) == pytest.approx(2 * sigma**2 / -mu * q_n)


def test_expected_max_drawdown_asymptotes_and_continuity() -> None:
    sigma = 1.0
    near = expected_max_drawdown(np.array([-1e-6, 0.0, 1e-6]), sigma, 100.0)
    assert np.ptp(near) < 1e-4 * near[1]
    # mu < 0: linear, |mu| T + sigma^2 / |mu|
    assert expected_max_drawdown(-0.1, sigma, 5000) == pytest.approx(0.1 * 5000 + 10.0)
    # mu > 0: logarithmic
    x = 0.01 * 1e9 / 2
    assert expected_max_drawdown(0.1, sigma, 1e9) == pytest.approx(
        20.0 * (0.25 * math.log(x) + 0.49088)
    )
    grid = expected_max_drawdown(0.05, sigma, np.geomspace(1, 1e6, 200))
    assert bool(np.all(np.diff(grid) > 0))
    assert math.isnan(expected_max_drawdown(0.0, 0.0, 10))


@pytest.mark.parametrize("mu", [-0.05, 0.0, 0.05, 0.15])
def test_expected_max_drawdown_against_simulation(mu: float) -> None:
    rng = np.random.default_rng(2004)
    n_steps, n_paths, sigma = 1000, 4000, 1.0
    dt = 100.0 / n_steps  # T = 100 periods in 1000 steps
    steps = rng.normal(mu * dt, sigma * math.sqrt(dt), (n_steps, n_paths))
    path = np.vstack([np.zeros(n_paths), np.cumsum(steps, axis=0)])
    simulated = (np.maximum.accumulate(path, axis=0) - path).max(axis=0).mean()
    # discrete monitoring misses about 0.5826 sigma sqrt(dt) of each extreme (Broadie et al.)
    corrected = simulated + 0.5826 * sigma * math.sqrt(dt)
    assert expected_max_drawdown(mu, sigma, 100.0) == pytest.approx(corrected, rel=0.03)


def test_triple_penance_rule() -> None:
    mu, sigma, confidence = 0.001, 0.02, 0.95
    bounds = drawdown_bounds(mu, sigma, confidence)
    z = stats.norm.ppf(confidence)

    def quantile(t: float) -> float:
        return mu * t - z * sigma * math.sqrt(t)

    found = optimize.minimize_scalar(quantile, bounds=(1e-9, 1e5), method="bounded")
    assert bounds.time_to_trough == pytest.approx(found.x, rel=1e-4)
    assert bounds.max_drawdown == pytest.approx(-found.fun, rel=1e-8)
    back = optimize.brentq(quantile, 10 * found.x / 9 + 1, 1e6)
    assert bounds.time_under_water == pytest.approx(back, rel=1e-8)
    assert bounds.time_to_recover == pytest.approx(3 * bounds.time_to_trough)
    assert bounds.max_drawdown == pytest.approx((z * sigma) ** 2 / (4 * mu))
    assert drawdown_bounds(0.0, sigma).max_drawdown == math.inf
    with pytest.raises(ValueError, match=r"0\.5 and 1"):
        drawdown_bounds(mu, sigma, 0.4)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-0.2, 0.2),
    st.floats(0.005, 0.5),
    st.floats(1.0, 1e5),
    st.floats(0.01, 100.0),
    st.floats(0.1, 10.0),
)
def test_expected_max_drawdown_scales_like_brownian_motion(
    mu: float, sigma: float, horizon: float, scale: float, speed: float
) -> None:
    base = expected_max_drawdown(mu, sigma, horizon)
    # the same path in other units: E scales with the unit of X
    assert expected_max_drawdown(scale * mu, scale * sigma, horizon) == pytest.approx(
        scale * base, rel=1e-9
    )
    # the same path sampled in periods `speed` times longer: E unchanged
    assert expected_max_drawdown(
        speed * mu, math.sqrt(speed) * sigma, horizon / speed
    ) == pytest.approx(base, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-5, 0.01), st.floats(0.001, 0.1), st.floats(0.55, 0.999))
def test_drawdown_bounds_penance_and_scaling(mu: float, sigma: float, confidence: float) -> None:
    bounds = drawdown_bounds(mu, sigma, confidence)
    assert bounds.time_under_water == pytest.approx(4 * bounds.time_to_trough)
    assert bounds.time_to_recover == pytest.approx(bounds.time_under_water - bounds.time_to_trough)
    doubled = drawdown_bounds(mu, 2 * sigma, confidence)
    assert doubled.max_drawdown == pytest.approx(4 * bounds.max_drawdown)
    assert drawdown_bounds(mu, sigma, min(0.9999, confidence + 0.0001)).max_drawdown >= (
        bounds.max_drawdown
    )
