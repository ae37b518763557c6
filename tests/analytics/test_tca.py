"""TCA: shortfall against hand numbers and a per-fill loop, markouts against merge_asof."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.analytics import tca

# (name, side, Q, P_dec, P_arr, P_end, fills q, fills p, fees, delay, trading, opportunity)
TEXTBOOK = [
    # Perold-style buy: decide at 100, arrive 100.5, fill 600 @ 101 and 200 @ 101.5, end at 102.
    (
        "buy partial",
        1,
        1000,
        100.0,
        100.5,
        102.0,
        [600, 200],
        [101.0, 101.5],
        10.0,
        500.0,
        600 * 0.5 + 200 * 1.0,
        200 * 1.5,
    ),
    # A sell that arrived after the price fell and was fully filled: no opportunity cost.
    ("sell full", -1, 10, 50.0, 49.0, 45.0, [10], [48.5], 0.0, 10.0, 5.0, 0.0),
    # Price moved in our favour: negative costs.
    ("buy favourable", "buy", 2, 10.0, 9.0, 8.0, [1], [8.5], 0.0, -2.0, -0.5, -1.0),
    ("nothing filled", "sell", 5, 20.0, 20.0, 22.0, [], [], 1.0, 0.0, 0.0, -10.0),
]


@pytest.mark.parametrize(
    ("name", "side", "q", "pd_", "pa", "pe", "fq", "fp", "fees", "delay", "trading", "opp"),
    TEXTBOOK,
    ids=[row[0] for row in TEXTBOOK],
)
def test_shortfall_textbook(name, side, q, pd_, pa, pe, fq, fp, fees, delay, trading, opp):
    s = tca.implementation_shortfall(side, q, pd_, pa, pe, fq, fp, fees)
    assert s.delay == pytest.approx(delay)
    assert s.trading == pytest.approx(trading)
    assert s.opportunity == pytest.approx(opp)
    assert s.fees == pytest.approx(fees)
    assert s.total == pytest.approx(delay + trading + opp + fees)
    assert s.total_bps == pytest.approx(1e4 * s.total / (q * pd_))


def test_shortfall_equals_paper_minus_real_portfolio():
    # Perold's definition: paper return of the full order at the decision price minus the
    # real return (fills at their prices, marked at the end price), plus fees.
    q, pdec, pend = 1000, 100.0, 102.0
    fq, fp = np.array([600.0, 200.0]), np.array([101.0, 101.5])
    s = tca.implementation_shortfall(1, q, pdec, 100.5, pend, fq, fp, 10.0)
    paper = q * (pend - pdec)
    real = float(np.sum(fq * (pend - fp)))
    assert s.total == pytest.approx(paper - real + 10.0)


def test_bad_side_teaches():
    with pytest.raises(ValueError, match="side must be"):
        tca.implementation_shortfall("long", 1, 1, 1, 1, [1], [1])


def _random_book(rng, n_orders=200):
    orders = pd.DataFrame(
        {
            "order_id": rng.permutation(n_orders) + 1000,
            "side": rng.choice(["buy", "sell"], n_orders),
            "quantity": rng.uniform(1, 10, n_orders),
            "decision_price": rng.uniform(90, 110, n_orders),
            "arrival_price": rng.uniform(90, 110, n_orders),
            "end_price": rng.uniform(90, 110, n_orders),
            "strategy": rng.choice(["a", "b"], n_orders),
            "regime": rng.choice(["thin", "normal", "peak"], n_orders),
            "decision_time": pd.Timestamp("2024-08-05", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 7 * 86400, n_orders), unit="s"),
        }
    )
    n_fills = 600
    fills = pd.DataFrame(
        {
            "order_id": rng.choice(orders["order_id"].to_numpy(), n_fills),
            "quantity": rng.uniform(0, 1, n_fills),
            "price": rng.uniform(90, 110, n_fills),
            "fee": rng.uniform(0, 0.1, n_fills),
        }
    )
    return orders, fills


def test_shortfall_table_matches_per_fill_loop():
    orders, fills = _random_book(np.random.default_rng(7))
    table = tca.shortfall_table(orders, fills)
    for row in table.itertuples():
        mine = fills[fills["order_id"] == row.order_id]
        s = tca.implementation_shortfall(
            row.side,
            row.quantity,
            row.decision_price,
            row.arrival_price,
            row.end_price,
            mine["quantity"],
            mine["price"],
            mine["fee"],
        )
        # an independent loop over fills
        d = 1 if row.side == "buy" else -1
        trading = 0.0
        for q, p in zip(mine["quantity"], mine["price"], strict=True):
            trading += d * q * (p - row.arrival_price)
        assert row.trading == pytest.approx(trading, abs=1e-9)
        assert row.trading == pytest.approx(s.trading, abs=1e-9)
        assert row.opportunity == pytest.approx(s.opportunity, abs=1e-9)
        assert row.total == pytest.approx(s.total, abs=1e-9)
        assert row.total_bps == pytest.approx(s.total_bps, abs=1e-9)


def test_aggregate_sums_and_weights_bps_by_notional():
    orders, fills = _random_book(np.random.default_rng(3))
    table = tca.shortfall_table(orders, fills)
    agg = tca.aggregate_shortfall(table, ["strategy", "regime"])
    assert agg["n_orders"].sum() == len(orders)
    assert agg["total"].sum() == pytest.approx(table["total"].sum())
    row = agg.iloc[0]
    sub = table[(table.strategy == row.strategy) & (table.regime == row.regime)]
    assert row.total_bps == pytest.approx(1e4 * sub.total.sum() / sub.decision_notional.sum())
    how = tca.aggregate_shortfall(table, ["hour_of_week", "day"])
    assert how["hour_of_week"].between(0, 167).all()
    assert how["n_orders"].sum() == len(orders)
    with pytest.raises(ValueError, match="subset"):
        tca.aggregate_shortfall(table, ["venue"])


def test_spread_decomposition_identity_and_hand_case():
    # buy at 100.05 with mid 100, mid later 100.03: effective 10 bps, impact 6, realized 4.
    s = tca.spread_decomposition([1], [100.05], [100.0], [100.03])
    assert s.effective_bps[0] == pytest.approx(10.0)
    assert s.impact_bps[0] == pytest.approx(6.0)
    assert s.realized_bps[0] == pytest.approx(4.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, -1]),
            st.floats(1, 1e5),
            st.floats(-0.05, 0.05),
            st.floats(-0.05, 0.05),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_spread_effective_is_realized_plus_impact(rows):
    side = [r[0] for r in rows]
    mid = np.array([r[1] for r in rows])
    price = mid * (1 + np.array([r[2] for r in rows]))
    after = mid * (1 + np.array([r[3] for r in rows]))
    s = tca.spread_decomposition(side, price, mid, after)
    np.testing.assert_allclose(s.effective_bps, s.realized_bps + s.impact_bps, atol=1e-6)
    # flipping the side flips every sign
    f = tca.spread_decomposition(-np.array(side), price, mid, after)
    np.testing.assert_allclose(f.effective_bps, -s.effective_bps)


def test_markouts_match_merge_asof():
    rng = np.random.default_rng(11)
    qt = np.sort(rng.integers(0, 3_600 * 10**9, 5000))
    qm = 100 + np.cumsum(rng.normal(0, 0.01, qt.size))
    ft = rng.integers(0, 3_600 * 10**9, 400)
    sides = rng.choice([1, -1], ft.size)
    px = 100 + rng.normal(0, 0.5, ft.size)
    res = tca.markouts(ft, sides, px, qt, qm)
    quotes = pd.DataFrame({"t": qt, "mid": qm})
    for j, h in enumerate(res.horizons_ns):
        fills = pd.DataFrame({"t": ft + h, "i": np.arange(ft.size)}).sort_values("t")
        joined = pd.merge_asof(fills, quotes, on="t", direction="backward").sort_values("i")
        expect = 1e4 * sides * (joined["mid"].to_numpy() - px) / px
        np.testing.assert_allclose(res.bps[:, j], expect, equal_nan=True)
    assert not res.from_candle.any()


def test_markouts_fall_back_to_candles_only_without_a_quote():
    s = 10**9
    quote_t, quote_m = [100 * s], [101.0]
    candle_t, candle_m = [0, 60 * s], [99.0, 100.0]
    res = tca.markouts(
        [50 * s],
        [1],
        [100.0],
        quote_t,
        quote_m,
        horizons=(-60 * s, 0, 10 * s, 60 * s),
        candle_times=candle_t,
        candle_mids=candle_m,
    )
    # t+h = -10s: nothing at all; 50s: candle 0; 60s: candle 60; 110s: quote.
    assert math.isnan(res.bps[0, 0])
    np.testing.assert_allclose(res.bps[0, 1:], [-100.0, 0.0, 100.0])
    assert res.from_candle[0].tolist() == [False, True, True, False]
    assert res.to_frame()["source"].tolist() == ["none", "candle", "candle", "quote"]


def test_impact_k_recovered_and_compared():
    rng = np.random.default_rng(5)
    n = 2000
    hs = rng.uniform(0.5, 2, n)
    sigma = rng.uniform(0.001, 0.01, n)
    q = rng.uniform(1, 100, n)
    v = rng.uniform(1e3, 1e5, n)
    expected = tca.expected_cost_bps(hs, sigma, q, v, k=0.9)
    observed = expected + rng.normal(0, 0.2, n)
    k = tca.calibrate_impact_k(observed, hs, sigma, q, v)
    assert k == pytest.approx(0.9, abs=0.02)
    cmp = tca.compare_costs(observed, expected)
    assert abs(cmp.attrs["mean_residual_bps"]) < 0.05
    assert cmp.attrs["rmse_bps"] == pytest.approx(0.2, rel=0.1)
    assert math.isnan(tca.calibrate_impact_k([1.0], [0.5], [0.0], [1.0], [1.0]))
