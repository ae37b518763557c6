"""Reconciliation on a real trade stream (tardis Binance futures trades, see
tests/fixtures/telemetry/README.md): replayed as both sides, then with injected breaks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.model.reconciliation import BreakClass, ReconciliationPolicySpec
from stratops.ops.reconciliation.compare import Book, reconcile

TRADES = Path(__file__).parents[1] / "fixtures" / "telemetry" / "tardis-trades.csv"
POLICY = ReconciliationPolicySpec()
AS_OF = 2_000_000_000 * 10**9


@pytest.fixture(scope="module")
def stream() -> pd.DataFrame:
    raw = pd.read_csv(TRADES)
    notional = raw["price"] * raw["amount"]
    return pd.DataFrame(
        {
            "ts": raw["timestamp"].to_numpy(np.int64) * 1000,
            "symbol": np.full(len(raw), "BTC/USDT", dtype=object),
            "side": raw["side"].astype(object),
            "quantity": raw["amount"].astype(float),
            "price": raw["price"].astype(float),
            "fee": notional * 4e-4,
            "fee_asset": np.full(len(raw), "USDT", dtype=object),
            "order_key": np.arange(len(raw), dtype=np.int64),
            "trade_key": np.full(len(raw), -1, dtype=np.int64),
            "activity": np.full(len(raw), "trade", dtype=object),
        }
    )


def _venue(ledger: pd.DataFrame) -> pd.DataFrame:
    venue = ledger.copy()
    venue["trade_key"] = np.arange(len(ledger), dtype=np.int64) + 10**9
    return venue


def _orders(count: int) -> pd.DataFrame:
    """The orders the deployment sent: one per fill of the stream."""
    return pd.DataFrame(
        {
            "order_key": np.arange(count, dtype=np.int64),
            "symbol": "BTC/USDT",
            "status": "filled",
            "filled": np.nan,
        }
    )


def _run(ledger: pd.DataFrame, venue: pd.DataFrame) -> pd.DataFrame:
    sent = _orders(200).iloc[:0]  # no order states compared, only the ids known
    known = Book(fills=ledger, orders=_orders(200).assign(filled=0.0))
    return reconcile(known, Book(fills=venue, orders=sent), POLICY, AS_OF)


def test_a_clean_replay_has_no_breaks(stream: pd.DataFrame) -> None:
    assert len(_run(stream, _venue(stream))) == 0


def _inject(stream: pd.DataFrame, kind: BreakClass, row: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ledger, venue = stream.copy(), _venue(stream)
    if kind is BreakClass.MISSING_EXTERNAL:
        venue = venue.drop(index=row)
    elif kind is BreakClass.MISSING_INTERNAL:
        ledger = ledger.drop(index=row)
    elif kind is BreakClass.DUPLICATE:
        venue = pd.concat([venue, venue.loc[[row]]], ignore_index=True)
    elif kind is BreakClass.PRICE:
        venue.loc[row, "price"] *= 1.001
    elif kind is BreakClass.QUANTITY:
        venue.loc[row, "quantity"] *= 2
    elif kind is BreakClass.FEE:
        venue.loc[row, "fee_asset"] = "BNB"
    elif kind is BreakClass.EXTERNAL_ACTIVITY:
        manual = venue.loc[[row]].assign(order_key=-1, trade_key=5)
        venue = pd.concat([venue, manual], ignore_index=True)
    return ledger, venue


FILL_CLASSES = [
    BreakClass.MISSING_EXTERNAL,
    BreakClass.MISSING_INTERNAL,
    BreakClass.DUPLICATE,
    BreakClass.PRICE,
    BreakClass.QUANTITY,
    BreakClass.FEE,
    BreakClass.EXTERNAL_ACTIVITY,
]


@pytest.mark.parametrize("kind", FILL_CLASSES, ids=lambda k: k.value)
def test_each_injected_break_is_found_with_its_class(
    stream: pd.DataFrame, kind: BreakClass
) -> None:
    found = _run(*_inject(stream, kind, 17))
    assert found["class"].tolist() == [kind.value]


def test_a_fuzzy_match_without_keys_and_a_fee_amount(stream: pd.DataFrame) -> None:
    # one fill per time: fuzzy matching of several fills at one instant is not done yet
    alone = stream.drop_duplicates("ts", keep=False).reset_index(drop=True)
    ledger = alone.assign(order_key=-1)
    venue = _venue(alone).assign(order_key=-1, trade_key=-1)
    venue.loc[3, "fee"] *= 3
    found = _run(ledger, venue)
    assert found["class"].tolist() == ["fee"]


def test_drift_and_order_state() -> None:
    orders = pd.DataFrame(
        {
            "order_key": [1, 2],
            "symbol": ["BTC/USDT"] * 2,
            "status": ["filled", "partial"],
            "filled": [1.0, 0.5],
        }
    )
    venue_orders = orders.assign(status=["closed", "closed"])
    ledger = Book(
        orders=orders,
        positions=pd.Series({"BTC/USDT": 1.0}),
        balances=pd.Series({"USDT": 10.0}),
        funding=pd.Series({"BTC/USDT": 0.0}),
    )
    venue = Book(
        orders=venue_orders,
        positions=pd.Series({"BTC/USDT": 1.5}),
        balances=pd.Series({"USDT": 9.0}),
        funding=pd.Series({"BTC/USDT": 0.1}),
    )
    found = reconcile(ledger, venue, POLICY, AS_OF)
    assert sorted(found["class"]) == ["balance_drift", "funding", "order_state", "position_drift"]


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.sampled_from(FILL_CLASSES), st.integers(0, 9), min_size=0))
def test_any_subset_of_injected_breaks_is_found_exactly(
    stream: pd.DataFrame, chosen: dict[BreakClass, int]
) -> None:
    ledger, venue = stream.copy(), _venue(stream)
    expected = []
    for slot, kind in enumerate(sorted(chosen)):
        row = 20 * slot + chosen[kind]  # distinct fills for distinct breaks
        _, one_v = _inject(stream, kind, row)
        if kind is BreakClass.MISSING_INTERNAL:
            ledger = ledger.drop(index=row)
        elif len(one_v) != len(stream) or kind is not BreakClass.MISSING_INTERNAL:
            changed = one_v.iloc[len(stream) :] if len(one_v) > len(stream) else None
            if kind is BreakClass.MISSING_EXTERNAL:
                venue = venue.drop(index=row)
            elif changed is not None:
                venue = pd.concat([venue, changed], ignore_index=False)
            else:
                venue.loc[row] = one_v.loc[row]
        expected.append(kind.value)
    found = _run(ledger, venue.reset_index(drop=True))
    assert sorted(found["class"]) == sorted(expected)
