"""The simulator's math: target following, impact, fees, partial fills, markouts, spreads."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.paper.config import EngineConfig, ExecutionConfig, OrderType
from stratops.paper.datasets import DEFAULT_DATA_DIR
from stratops.paper.engine import run_backtest, symbol_data
from stratops.paper.execution import (
    BarRecords,
    SymbolData,
    follow_targets,
    initial_state,
    markout_bps,
    simulate_symbol,
)
from stratops.paper.features import corwin_schultz
from stratops.paper.impact import calibrate_impact, sqrt_impact
from stratops.paper.market import Market
from stratops.paper.marketdata.loaders import read_binance_capture
from stratops.paper.strategies import strategy_spec


def _reference_follow(
    target: np.ndarray, buy: np.ndarray, sell: np.ndarray, start: float
) -> np.ndarray:
    out, position = [], start
    for t, b, s in zip(target, buy, sell, strict=True):
        position = min(max(t, position - s), position + b)
        out.append(position)
    return np.array(out)


quantities = st.floats(-50, 50, allow_nan=False).map(lambda x: round(x, 3))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(quantities, st.floats(0, 5), st.floats(0, 5)), min_size=1, max_size=60),
    quantities,
)
def test_follow_targets_solves_the_recursion_exactly(
    rows: list[tuple[float, float, float]], start: float
) -> None:
    target, buy, sell = (np.array(column) for column in zip(*rows, strict=True))
    np.testing.assert_array_equal(
        follow_targets(target, buy, sell, start), _reference_follow(target, buy, sell, start)
    )


def test_sqrt_impact_matches_the_formula() -> None:
    quantity = np.array([1.0, -4.0, 9.0, 0.0, 2.0])
    volume = np.array([100.0, 100.0, 900.0, 50.0, 0.0])
    sigma = np.array([0.001, 0.002, 0.003, 0.001, 0.01])
    expected = 0.9 * sigma * np.sqrt(np.abs(quantity) / np.where(volume > 0, volume, 1))
    expected[volume == 0] = 0.0
    np.testing.assert_allclose(sqrt_impact(quantity, volume, sigma, 0.9), expected)
    assert (
        sqrt_impact(np.array([4.0]), np.array([100.0]), np.array([0.01]), 1.0)[0]
        == 2 * (sqrt_impact(np.array([1.0]), np.array([100.0]), np.array([0.01]), 1.0)[0])
    )


def test_impact_coefficient_calibrates_near_its_default() -> None:
    ticks = read_binance_capture(
        [DEFAULT_DATA_DIR / "binance-ws-capture" / "spot_btcusdt_20240808T2358_4m.gz"], "BTC/USDT"
    )
    k = calibrate_impact(ticks.trades.frame, ticks.quotes.frame, 10 * 1_000_000_000)
    assert 0.5 < k < 1.5


def test_corwin_schultz_is_zero_without_range_and_small_on_liquid_minutes(
    btc_minute: Market,
) -> None:
    flat = np.full(10, 100.0)
    np.testing.assert_array_equal(corwin_schultz(flat, flat, 5), np.zeros(10))
    half = corwin_schultz(btc_minute.high[:, 0], btc_minute.low[:, 0], 60)
    assert (half >= 0).all()
    assert np.median(half) * 1e4 < 1.0  # under 1 bp on BTC/USDT minutes


def _simulate(
    market: Market, fractions: np.ndarray, config: EngineConfig, splits: list[int]
) -> tuple[SymbolData, list[BarRecords]]:
    data = symbol_data(market, config)[0]
    state = initial_state(data)
    chunks = []
    edges = [0, *splits, market.bars]
    for a, b in itertools.pairwise(edges):
        records, state = simulate_symbol(
            data, fractions[a:b], a, state, config.allocation, config.execution
        )
        chunks.append(records)
    return data, chunks


def _signal(bars: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    changes = rng.random(bars) < 0.02
    levels = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=bars)
    fractions = np.where(changes, levels, np.nan)
    fractions[0] = 0.0
    index = np.maximum.accumulate(np.where(~np.isnan(fractions), np.arange(bars), 0))
    return fractions[index]


@pytest.mark.parametrize("splits", [[1], [500, 501, 2000], list(range(100, 4000, 137))])
def test_chunking_does_not_change_a_single_number(btc_minute: Market, splits: list[int]) -> None:
    market = btc_minute.between(None, int(btc_minute.ts[4000]))
    config = EngineConfig(allocation=2_000_000)  # large: the participation cap binds often
    fractions = _signal(market.bars)
    _, (whole,) = _simulate(market, fractions, config, [])
    _, pieces = _simulate(market, fractions, config, splits)
    for name in ("position", "filled", "fill_price", "fee", "net", "arrival_time"):
        joined = np.concatenate([getattr(p, name) for p in pieces])
        np.testing.assert_array_equal(joined, getattr(whole, name), err_msg=name)
    assert (np.abs(whole.filled) < np.abs(whole.ordered) - 1e-12).sum() > 50


def test_fills_fees_and_costs_add_up(btc_minute: Market) -> None:
    config = EngineConfig(allocation=2_000_000)
    fractions = _signal(btc_minute.bars)
    data, (rec,) = _simulate(btc_minute, fractions, config, [])
    cap = config.execution.participation * data.volume
    assert (np.abs(rec.filled) <= cap + 1e-9).all()
    notional = np.abs(rec.filled) * rec.fill_price
    np.testing.assert_allclose(rec.fee, notional * 4.0 / 1e4)
    side = np.sign(rec.filled)
    expected_price = rec.arrival_price * (1 + side * (rec.half_spread + rec.impact))
    np.testing.assert_allclose(rec.fill_price, expected_price)
    costs = rec.delay_cost + rec.spread_cost + rec.impact_cost
    np.testing.assert_allclose(costs, rec.filled * (rec.fill_price - rec.decision_price), atol=1e-6)
    np.testing.assert_allclose(rec.net, rec.gross - costs - rec.fee - rec.funding, atol=1e-6)
    assert (rec.data_time <= rec.decision_time).all()
    assert (rec.decision_time < rec.arrival_time).all()


def test_partial_fills_conserve_quantity(btc_minute: Market) -> None:
    strategy = strategy_spec("trend").build({"fast": 10, "slow": 60, "allow_short": True})
    session = run_backtest(btc_minute, strategy, EngineConfig(allocation=5_000_000))
    orders = session.tables()["orders"].to_pandas()
    assert (orders["status"] == "partial").sum() > 10
    np.testing.assert_allclose(
        orders["quantity"], orders["filled_quantity"] + orders["cancelled_quantity"]
    )
    positions = session.tables()["positions"].to_pandas()
    fills = session.tables()["fills"].to_pandas()
    signed = np.where(fills["side"] == "buy", 1.0, -1.0) * fills["quantity"]
    assert signed.sum() == pytest.approx(positions["position"].iloc[-1], abs=1e-9)


def test_markouts_have_the_fill_sign() -> None:
    side = np.array([1.0, 1.0, -1.0, -1.0])
    price = np.array([100.0, 100.0, 100.0, 100.0])
    after = np.array([101.0, 99.0, 99.0, 101.0])
    np.testing.assert_allclose(markout_bps(side, price, after), [100.0, -100.0, 100.0, -100.0])


def test_markouts_use_quotes_and_stop_where_data_ends(capture_market: Market) -> None:
    strategy = strategy_spec("trend").build({"fast": 5, "slow": 20, "allow_short": True})
    session = run_backtest(
        capture_market.select(["BTC/USDT"]), strategy, EngineConfig(allocation=50_000)
    )
    fills = session.tables()["fills"].to_pandas()
    assert {"mid_after_1s", "mid_after_10s"} <= set(fills.columns)
    assert fills["half_spread_bps"].median() < 0.01  # the quoted one-tick spread
    last = fills["ts"].max()
    end = capture_market.ts[-1] + capture_market.step_ns
    late = fills["ts"].astype("int64") + 10_000_000_000 > end
    assert fills.loc[late, "mid_after_10s"].isna().all()
    assert fills.loc[~late, "mid_after_10s"].notna().all()
    assert last.value < end


def test_limit_orders_fill_only_when_traded_through(btc_minute: Market) -> None:
    limit = EngineConfig(
        allocation=100_000, execution=replace(ExecutionConfig(), order_type=OrderType.LIMIT)
    )
    fractions = _signal(btc_minute.bars)
    data, (rec,) = _simulate(btc_minute, fractions, limit, [])
    bought = rec.filled > 0
    sold = rec.filled < 0
    assert bought.any() and sold.any()
    assert (data.low[rec.bar[bought]] < rec.fill_price[bought]).all()
    assert (data.high[rec.bar[sold]] > rec.fill_price[sold]).all()
    np.testing.assert_allclose(rec.fee, np.abs(rec.filled) * rec.fill_price * 2.0 / 1e4)
    assert (rec.impact == 0).all()
    assert (rec.spread_cost <= 0).all()
