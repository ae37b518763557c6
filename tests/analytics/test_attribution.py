"""Attribution: a real paper run adds up to its ledger, hand numbers, and any fills add up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.analytics.attribution import PARTS, aggregate_attribution, attribute
from stratops.analytics.regimes import hour_of_week_profile, hourly_measures
from stratops.paper.config import EngineConfig, ExecutionConfig, OrderType
from stratops.paper.datasets import load_dataset, symbol_profile
from stratops.paper.engine import run_backtest
from stratops.paper.strategies import strategy_spec

FUNDING = Path(__file__).resolve().parents[1] / "fixtures" / "funding"
DAY_NS = 86_400 * 1_000_000_000
HOUR = pd.Timedelta(hours=1)
MS = pd.Timedelta(milliseconds=1)


# --------------------------------------------------------------------------- a real paper run

RUNS = {
    "trend, market orders": (
        "binance-1m", "trend", {"fast": 10, "slow": 60, "allow_short": True}, ["BTC/USDT"],
        ExecutionConfig(),
    ),
    "mean reversion, limit orders": (
        "binance-1m", "meanrev", {"window": 240}, ["BTC/USDT", "ETH/USDT"],
        ExecutionConfig(order_type=OrderType.LIMIT),
    ),
    "trend on quoted second bars": (
        "binance-ws-1s", "trend", {"fast": 10, "slow": 60, "allow_short": True}, ["BTC/USDT"],
        ExecutionConfig(),
    ),
}  # fmt: skip


def _paper_run(case: str) -> dict[str, pd.DataFrame]:
    dataset, kind, params, symbols, execution = RUNS[case]
    market = load_dataset(dataset).select(symbols)
    market = market.between(None, int(market.ts[0]) + 2 * DAY_NS)
    strategy = strategy_spec(kind).build(params)
    config = EngineConfig(allocation=1_000_000.0, seed=3, execution=execution)
    return {k: t.to_pandas() for k, t in run_backtest(market, strategy, config).tables().items()}


@pytest.fixture(scope="module", params=list(RUNS))
def run(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return _paper_run(request.param)


def test_a_paper_run_adds_up_to_its_ledger_to_the_cent(run: dict[str, pd.DataFrame]) -> None:
    table = attribute(run["orders"], run["fills"], run["positions"], strategy="s")
    ledger = run["pnl"].sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True)
    assert len(run["fills"]) > 100 and table.attrs["orders_outside"] == 0
    assert (table["ts"].to_numpy() == ledger["ts"].to_numpy()).all()
    parts = table[list(PARTS)].sum(axis=1).to_numpy()
    np.testing.assert_allclose(parts, ledger["net"].to_numpy(), rtol=0, atol=0.005)
    assert round(float(parts.sum()), 2) == round(float(ledger["net"].sum()), 2)
    # the fees and (taker fills) the spread and impact are the ledger's own
    np.testing.assert_allclose(-table["fees"], ledger["fees"], rtol=0, atol=1e-9)
    if (run["fills"]["liquidity"] == "taker").all():
        np.testing.assert_allclose(-table["spread"], ledger["spread_cost"], atol=1e-6)
        np.testing.assert_allclose(-table["impact"], ledger["impact_cost"], atol=1e-6)
        # paper alpha less delay and opportunity is the ledger's gross less its delay
        lhs = table["alpha"] + table["delay"] + table["opportunity"]
        np.testing.assert_allclose(lhs, ledger["gross"] - ledger["delay_cost"], atol=1e-6)


def test_groups_partition_the_run(run: dict[str, pd.DataFrame]) -> None:
    table = attribute(run["orders"], run["fills"], run["positions"], strategy="s")
    market = load_dataset("binance-1m").select(["BTC/USDT"])
    profile = symbol_profile(market)
    total = table["pnl"].sum()
    for by in (["strategy"], ["symbol"], ["day"], ["regime"], ["hour_of_week"], ["day", "symbol"]):
        groups = aggregate_attribution(table, by, profile=profile)
        assert groups["periods"].sum() == len(table)
        assert groups["pnl"].sum() == pytest.approx(total, abs=1e-6)
        assert groups[list(PARTS)].sum(axis=1).to_numpy() == pytest.approx(groups["pnl"])
    regimes = aggregate_attribution(table, ["regime"], profile=profile)
    assert set(regimes["regime"]) <= {"thin", "normal", "peak"}


# --------------------------------------------------------------------------- hand numbers

T0 = pd.Timestamp("2024-08-05T00:00Z")  # a Monday: hour of the week 0


def _hand_case() -> tuple[pd.DataFrame, ...]:
    positions = pd.DataFrame(
        {
            "ts": [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR],
            "symbol": "BTC-USDT-PERP",
            "position": [6.0, 0.0, 2.0],
            "mark_price": [102.0, 99.0, 98.0],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4],
            "symbol": "BTC-USDT-PERP",
            "side": ["buy", "sell", "buy", "buy"],
            "quantity": [10.0, 6.0, 2.0, 1.0],
            "decision_time": [T0 + 20 * MS, T0 + HOUR + 20 * MS, T0 + 2 * HOUR, T0 + 3.2 * HOUR],
            "decision_price": [100.0, 102.0, 99.0, 98.0],
            "arrival_price": [100.5, 101.8, 99.2, 98.0],
        }
    )
    fills = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4],
            "quantity": [6.0, 6.0, 2.0, 1.0],
            "price": [101.0, 101.7, 98.9, 98.0],
            "fee": [0.6, 0.3, 0.04, 0.1],
            "half_spread_bps": [20.0, 10.0, 10.0, 10.0],
            "liquidity": ["taker", "taker", "maker", "taker"],
        }
    )
    funding = pd.DataFrame(
        {
            "ts": [T0 + HOUR + 3 * MS, T0 + 3 * HOUR, T0 + 4 * HOUR],
            "symbol": "BTC-USDT-PERP",
            "rate": [1e-4, 2e-4, 1e-4],
            "mark_price": [102.1, np.nan, 97.0],
        }
    )
    return orders, fills, positions, funding


# period 1: buy 10 decided at 100, 6 filled at 101 (arrival 100.5), marked 102
# period 2: sell the 6 at 101.7 (decided 102, arrival 101.8), marked 99; funding at 01:00:00.003
#           on the 6 held since the period's start
# period 3: a resting buy of 2 fills at 98.9 (decided 99, arrival 99.2), marked 98; funding at
#           03:00 on the 2 held at the period's end; order 4 and the 04:00 settlement are after
HAND = {
    "alpha": [10 * (102 - 100), 6 * (99 - 102) - 6 * (99 - 102), 2 * (98 - 99)],
    "delay": [-10 * 0.5, -(-6 * (101.8 - 102)), -2 * (99.2 - 99)],
    "spread": [-6 * 100.5 * 0.002, -6 * 101.8 * 0.001, +2 * 99.2 * 0.001],
    "impact": [
        -(6 * 0.5 - 6 * 100.5 * 0.002),
        -(-6 * (101.7 - 101.8) - 6 * 101.8 * 0.001),
        -(2 * (98.9 - 99.2) + 2 * 99.2 * 0.001),
    ],
    "opportunity": [-4 * (102 - 100.5), 0.0, 0.0],
    "fees": [-0.6, -0.3, -0.04],
    "funding": [0.0, -6 * 102.1 * 1e-4, -2 * 98 * 2e-4],
}
LEDGER = [
    6 * (102 - 101) - 0.6,
    6 * (99 - 102) - 6 * (99 - 101.7) - 0.3 - 6 * 102.1 * 1e-4,
    2 * (98 - 98.9) - 0.04 - 2 * 98 * 2e-4,
]


def test_hand_computed_perold_split_with_funding() -> None:
    orders, fills, positions, funding = _hand_case()
    table = attribute(orders, fills, positions, funding=funding, strategy="carry")
    for part, expected in HAND.items():
        assert table[part].to_numpy() == pytest.approx(expected, abs=1e-12), part
    assert table["pnl"].to_numpy() == pytest.approx(LEDGER, abs=1e-12)
    assert table.attrs["orders_outside"] == 1
    hours = aggregate_attribution(table, ["hour_of_week"])
    assert hours["hour_of_week"].tolist() == [0, 1, 2]  # a period is its last instant's
    day = aggregate_attribution(table, ["strategy", "day"])
    assert day["day"].tolist() == [T0] and day["pnl"].iloc[0] == pytest.approx(sum(LEDGER))


def test_funding_from_real_binance_settlements() -> None:
    """Eight-hourly BTCUSDT perpetual settlements (a slice of the shared funding data)."""
    raw = pd.read_csv(FUNDING / "binance-btc-usdt-perp.csv")
    settlements = pd.DataFrame(
        {
            "ts": pd.to_datetime(raw["settlement_ts"], utc=True),
            "symbol": raw["canonical_symbol"],
            "rate": raw["rate_raw"],
            "mark_price": raw["mark_price"],
        }
    )
    start = settlements["ts"].iloc[0].floor("h")
    ends = pd.date_range(start + HOUR, periods=72, freq="h")
    position = np.where(np.arange(72) < 36, 0.5, -0.25)  # long, then short, no trading
    positions = pd.DataFrame(
        {"ts": ends, "symbol": "BTC-USDT-PERP", "position": position, "mark_price": 1e5}
    )
    trades = _hand_case()[0].iloc[:0]  # no order: a position carried through the settlements
    fills = pd.DataFrame(columns=["order_id", "quantity", "price"])
    table = attribute(trades, fills, positions, funding=settlements)
    # each settlement a few ms past the hour falls in the period starting then, on its position
    held = np.interp(
        (settlements["ts"] - start).dt.total_seconds() // 3600, np.arange(72), position
    )
    inside = settlements["ts"] < ends[-1]
    expected = -(held * settlements["mark_price"] * settlements["rate"])[inside].sum()
    assert table["funding"].sum() == pytest.approx(expected, rel=1e-12)
    assert (table["funding"] != 0).sum() == int(inside.sum())
    assert table["funding"].iloc[:36].sum() < 0 < table["funding"].iloc[36:].sum()


def test_grouping_by_regime_needs_a_profile_and_names_the_keys() -> None:
    orders, fills, positions, _ = _hand_case()
    table = attribute(orders, fills, positions)
    with pytest.raises(ValueError, match="needs the hour-of-week profile"):
        aggregate_attribution(table, ["regime"])
    with pytest.raises(ValueError, match="non-empty subset"):
        aggregate_attribution(table, ["venue"])
    with pytest.raises(ValueError, match="positions lacks columns \\['mark_price'\\]"):
        attribute(orders, fills, positions.drop(columns="mark_price"))
    market = load_dataset("binance-1m").select(["BTC/USDT"])
    hourly = hourly_measures(market.ts, market.close[:, 0], market.volume[:, 0], market.step_ns)
    regimes = aggregate_attribution(table, ["regime"], profile=hour_of_week_profile(hourly))
    assert regimes["periods"].sum() == 3


# --------------------------------------------------------------------------- any fills

_order = st.tuples(
    st.sampled_from(["buy", "sell"]),
    st.floats(0.1, 50),  # quantity
    st.floats(50, 150),  # decision price
    st.floats(50, 150),  # arrival price
    st.lists(  # fills: share of the order, price, fee, half spread, maker
        st.tuples(st.floats(0, 0.5), st.floats(50, 150), st.floats(0, 2), st.floats(0, 30),
                  st.booleans()),
        max_size=2,
    ),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    marks=st.lists(st.floats(50, 150), min_size=1, max_size=6),
    orders=st.lists(st.tuples(st.integers(0, 5), _order), max_size=8),
    funding=st.lists(st.tuples(st.floats(0, 6.5), st.floats(-1e-3, 1e-3)), max_size=4),
)
def test_parts_add_up_to_the_ledger_for_any_fills(
    marks: list[float],
    orders: list[tuple[int, tuple[str, float, float, float, list[tuple[float, ...]]]]],
    funding: list[tuple[float, float]],
) -> None:
    n = len(marks)
    order_rows, fill_rows = [], []
    flow = np.zeros(n)  # signed quantity filled per period
    cash = np.zeros(n)  # sum f (m_j - p) - fees per period
    for oid, (period, (side, qty, p_dec, p_arr, fills)) in enumerate(orders):
        j = period % n
        d = 1.0 if side == "buy" else -1.0
        order_rows.append((oid, side, qty, T0 + j * HOUR + 20 * MS, p_dec, p_arr))
        for share, price, fee, half, maker in fills:
            fill_rows.append((oid, share * qty, price, fee, half, "maker" if maker else "taker"))
            flow[j] += d * share * qty
            cash[j] += d * share * qty * (marks[j] - price) - fee
    position = np.cumsum(flow)
    before = position - flow
    previous = np.r_[marks[0], marks[:-1]]
    settlements = [(T0 + pd.Timedelta(hours=h), rate) for h, rate in funding]
    carry = np.zeros(n)
    for when, rate in settlements:  # the module's rule, spelled out
        j = int(np.ceil((when - T0) / HOUR)) - 1
        if j >= n:
            continue
        j = max(j, 0)
        held = position[j] if when == T0 + (j + 1) * HOUR else before[j]
        carry[j] -= held * marks[j] * rate
    ledger = before * (np.asarray(marks) - previous) + cash + carry
    table = attribute(
        pd.DataFrame(
            order_rows,
            columns=["order_id", "side", "quantity", "decision_time", "decision_price",
                     "arrival_price"],
        ).assign(symbol="X"),
        pd.DataFrame(
            fill_rows,
            columns=["order_id", "quantity", "price", "fee", "half_spread_bps", "liquidity"],
        ),
        pd.DataFrame(
            {"ts": [T0 + (j + 1) * HOUR for j in range(n)], "symbol": "X", "position": position,
             "mark_price": marks}
        ),
        funding=pd.DataFrame(settlements, columns=["ts", "rate"]).assign(symbol="X"),
    )  # fmt: skip
    parts = table[list(PARTS)].sum(axis=1).to_numpy()
    np.testing.assert_allclose(parts, ledger, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(table["pnl"], parts, rtol=1e-12, atol=1e-9)
