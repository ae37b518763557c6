"""``stratops recon fetch`` of a contract account: trades, orders, positions and funding.

A USDⓈ-M futures account at the stand-in Binance (``fake_binance.py``, through ccxt's
``binanceusdm``), made of real data:

- trades: the first 20 Binance futures BTCUSDT trades of the tardis.dev sample
  (``tests/fixtures/telemetry/tardis-trades.csv``, 2020-02-22 00:00:02 →), taken as the desk's
  taker fills, one market order each, 0.04 % commission in USDT; the position is their sum;
- funding: a 0.5 BTC long held through the 9 real BTC-USDT perpetual funding settlements of
  ``tests/fixtures/funding/binance-btc-usdt-perp.csv`` (2025-08-21 08:00 → 2025-08-24 00:00),
  each paying rate × mark price × 0.5 (a long pays a positive rate), as Binance's income
  history reports it (``FUNDING_FEE``, negative when paid).

The desk's ledger of the same reconciles clean with the fetched statement; a payment the venue
did not book, or a position the desk does not know, is a break.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from binance_venue import KEY, SECRET, Venue, recon_fetch, running, taker_fills
from typer.testing import Result

from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.ops.reconciliation.compare import Book, reconcile
from stratops.ops.reconciliation.frames import empty_fills
from stratops.ops.reconciliation.statement import read_statement

FIXTURES = Path(__file__).parents[1] / "fixtures"
TRADES = FIXTURES / "telemetry" / "tardis-trades.csv"
SETTLEMENTS = FIXTURES / "funding" / "binance-btc-usdt-perp.csv"
PERP = "BTC/USDT:USDT"
FEE = Decimal("0.0004")
HELD = Decimal("0.5")
CLIENT_BASE, VENUE_BASE = 5000, 73_000_000_000
LISTED = [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT"}]
SPOT_TOO = {"apiKey": KEY, "secret": SECRET, "symbols": LISTED, "trades": [], "orders": [],
            "balances": []}  # fmt: skip


def _fills() -> pd.DataFrame:
    """The tardis trades as the desk's taker fills (the aggressor's side is ours)."""
    raw = pd.read_csv(TRADES, dtype={"price": str, "amount": str}).head(20)
    return taker_fills(
        raw["timestamp"].to_numpy(np.int64) // 1000,  # µs → ms
        PERP,
        raw["side"].tolist(),
        raw["price"].tolist(),
        raw["amount"].tolist(),
        raw["id"].tolist(),
        FEE,
        CLIENT_BASE,
    )


def _position(fills: pd.DataFrame) -> Decimal:
    signs = np.where(fills["side"] == "buy", 1, -1)
    return sum((s * Decimal(q) for s, q in zip(signs, fills["qty_text"], strict=True)), Decimal(0))


def _risk(amount: Decimal, entry: str, mark: str, side: str = "BOTH") -> dict[str, Any]:
    """A /fapi/v3/positionRisk entry."""
    notional = amount * Decimal(mark)
    return {"symbol": "BTCUSDT", "positionSide": side, "positionAmt": f"{amount:.3f}",
            "entryPrice": entry, "breakEvenPrice": entry, "markPrice": mark,
            "unRealizedProfit": f"{amount * (Decimal(mark) - Decimal(entry)):.8f}",
            "liquidationPrice": "0", "isolatedMargin": "0", "notional": f"{notional:.8f}",
            "marginAsset": "USDT", "isolatedWallet": "0",
            "initialMargin": f"{abs(notional) / 20:.8f}", "maintMargin": "0",
            "positionInitialMargin": f"{abs(notional) / 20:.8f}", "openOrderInitialMargin": "0",
            "adl": 1, "bidNotional": "0", "askNotional": "0",
            "updateTime": 1582329710000}  # fmt: skip


def _traded(fills: pd.DataFrame) -> dict[str, Any]:
    """The futures account of the fills, in Binance's response shapes."""
    trades, orders = [], []
    for row in fills.itertuples():
        quote = Decimal(row.price_text) * Decimal(row.qty_text)
        ms, order = int(row.ts) // 1_000_000, VENUE_BASE + int(row.order_key)
        trades.append(
            {"buyer": row.side == "buy", "commission": f"{quote * FEE:.8f}",
             "commissionAsset": "USDT", "id": int(row.id), "maker": False, "orderId": order,
             "price": row.price_text, "qty": row.qty_text, "quoteQty": f"{quote:.8f}",
             "realizedPnl": "0", "side": row.side.upper(), "positionSide": "BOTH",
             "symbol": "BTCUSDT", "time": ms}
        )  # fmt: skip
        orders.append(
            {"avgPrice": row.price_text, "clientOrderId": str(row.order_key),
             "cumQuote": f"{quote:.8f}", "executedQty": row.qty_text, "orderId": order,
             "origQty": row.qty_text, "origType": "MARKET", "price": "0", "reduceOnly": False,
             "side": row.side.upper(), "positionSide": "BOTH", "status": "FILLED",
             "stopPrice": "0", "closePosition": False, "symbol": "BTCUSDT", "time": ms - 2,
             "timeInForce": "GTC", "type": "MARKET", "updateTime": ms,
             "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
             "selfTradePreventionMode": "NONE", "goodTillDate": 0}
        )  # fmt: skip
    last = fills["price_text"].iloc[-1]
    position = _risk(_position(fills), str(fills["price_text"].iloc[0]), last)
    return {"symbols": LISTED, "trades": trades, "orders": orders, "positions": [position],
            "income": []}  # fmt: skip


def _settlements() -> pd.DataFrame:
    return pd.read_csv(SETTLEMENTS, dtype={"rate_raw": str, "mark_price": str})


def _held() -> dict[str, Any]:
    """The futures account holding 0.5 BTC long through the settlements."""
    income = []
    for number, row in enumerate(_settlements().itertuples()):
        paid = Decimal(row.rate_raw) * Decimal(row.mark_price) * HELD
        income.append(
            {"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": f"{-paid:.8f}",
             "asset": "USDT", "info": "FUNDING_FEE",
             "time": int(pd.Timestamp(row.settlement_ts).value // 1_000_000),
             "tranId": 9_600_000_000 + number, "tradeId": ""}
        )  # fmt: skip
    first = _settlements()["mark_price"].iloc[0]
    return {"symbols": LISTED, "trades": [], "orders": [], "income": income,
            "positions": [_risk(HELD, first, _settlements()["mark_price"].iloc[-1])]}  # fmt: skip


def _paid() -> float:
    rows = _settlements()
    pairs = zip(rows.rate_raw, rows.mark_price, strict=True)
    return float(sum(Decimal(rate) * Decimal(mark) * HELD for rate, mark in pairs))


def _account(futures: dict[str, Any]) -> dict[str, Any]:
    return {**SPOT_TOO, "updateTime": 1756000000000, "futures": futures}


@pytest.fixture(scope="module")
def fills() -> pd.DataFrame:
    return _fills()


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory, fills: pd.DataFrame) -> Iterator[Venue]:
    with running(tmp_path_factory.mktemp("binance"), _account(_traded(fills))) as stand_in:
        yield stand_in


@pytest.fixture
def held(venue: Venue, fills: pd.DataFrame) -> Iterator[Venue]:
    venue.write(_account(_held()))
    try:
        yield venue
    finally:
        venue.write(_account(_traded(fills)))


def _fetch(venue: Venue, out: Path, since: str, until: str, *extra: str) -> Result:
    window = ["--since", since, "--until", until]
    return recon_fetch(venue, out, "--symbol", PERP, *window, *extra, name="binanceusdm")


def _breaks(ledger: Book, out: Path) -> list[str]:
    statement, as_of = read_statement(out)
    assert as_of is None  # no balance: a contract account's is margin, at the venue's mark
    found = reconcile(ledger, statement, ReconciliationPolicySpec(), 1_800_000_000 * 10**9)
    return sorted(found["class"].tolist())


def _traded_ledger(fills: pd.DataFrame) -> Book:
    frame = fills.drop(columns=["id", "price_text", "qty_text"])
    orders = frame[["order_key", "symbol"]].assign(filled=frame["quantity"], status="filled")
    return Book(
        fills=frame,
        orders=orders,
        positions=pd.Series({PERP: float(_position(fills))}),
        funding=pd.Series({PERP: 0.0}),
    )


def _held_ledger(position: float = float(HELD)) -> Book:
    return Book(
        fills=empty_fills(),
        positions=pd.Series({PERP: position}),
        funding=pd.Series({PERP: _paid()}),
    )


def test_a_perpetual_account_fetches_trades_orders_and_the_position_not_the_balance(
    venue: Venue, fills: pd.DataFrame, tmp_path: Path
) -> None:
    venue.requests()
    out = tmp_path / "statements" / "btc-perp--live"
    result = _fetch(venue, out, "2020-02-22T00:00:00", "2020-02-22T01:00:00")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    counts = {kind: written[kind] for kind in ("trades", "orders", "positions", "funding")}
    assert counts == {"trades": 20, "orders": 20, "positions": 1, "funding": 0}
    assert sorted(p.name for p in out.iterdir()) == [
        "funding.jsonl", "orders.jsonl", "positions.jsonl", "trades.jsonl"
    ]  # fmt: skip
    assert _breaks(_traded_ledger(fills), out) == []
    statement, _ = read_statement(out)
    assert statement.positions is not None
    assert statement.positions[PERP] == pytest.approx(float(_position(fills)))  # 2.523 long

    seen = venue.requests()
    assert {r["code"] for r in seen} == {0}, seen
    paths = {r["path"] for r in seen}
    assert {"/fapi/v1/userTrades", "/fapi/v1/allOrders", "/fapi/v3/positionRisk",
            "/fapi/v1/income"} <= paths  # fmt: skip
    assert not any(p.startswith("/api/") or p == "/fapi/v3/account" for p in paths)
    [income] = [r["params"] for r in seen if r["path"] == "/fapi/v1/income"]
    assert (income["symbol"], income["incomeType"]) == ("BTCUSDT", "FUNDING_FEE")


def test_funding_is_fetched_a_day_at_a_time_and_reconciles_with_the_ledgers_cost(
    held: Venue, tmp_path: Path
) -> None:
    held.requests()
    out = tmp_path / "held"
    result = _fetch(held, out, "2025-08-21T07:00:00", "2025-08-24T01:00:00")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["funding"] == 9
    assert _breaks(_held_ledger(), out) == []
    statement, _ = read_statement(out)
    assert statement.funding is not None
    assert statement.funding[PERP] == pytest.approx(_paid())  # 49.7 USDT paid, a cost

    windows = [
        (int(r["params"]["startTime"]), int(r["params"]["endTime"]))
        for r in held.requests()
        if r["path"] == "/fapi/v1/income"
    ]
    start = int(pd.Timestamp("2025-08-21T07:00:00Z").value // 1_000_000)
    day = 24 * 3600 * 1000
    end = int(pd.Timestamp("2025-08-24T01:00:00Z").value // 1_000_000)
    assert windows == [(start, start + day), (start + day, start + 2 * day), (start + 2 * day, end)]


def test_a_payment_the_venue_did_not_book_and_a_drifted_position_are_breaks(
    held: Venue, tmp_path: Path
) -> None:
    account = _held()
    window = ("2025-08-21T07:00:00", "2025-08-24T01:00:00")
    held.write(_account({**account, "income": account["income"][1:]}))
    assert _fetch(held, tmp_path / "unbooked", *window).exit_code == 0
    assert _breaks(_held_ledger(), tmp_path / "unbooked") == ["funding"]
    held.write(_account(account))
    assert _fetch(held, tmp_path / "drifted", *window).exit_code == 0
    assert _breaks(_held_ledger(position=0.4), tmp_path / "drifted") == ["position_drift"]


def test_hedge_mode_legs_are_netted_into_one_position(held: Venue, tmp_path: Path) -> None:
    mark = _settlements()["mark_price"].iloc[-1]
    legs = [_risk(Decimal("0.8"), mark, mark, "LONG"), _risk(Decimal("-0.3"), mark, mark, "SHORT")]
    held.write(_account({**_held(), "positions": legs}))
    out = tmp_path / "hedged"
    assert _fetch(held, out, "2025-08-21T07:00:00", "2025-08-24T01:00:00").exit_code == 0
    [line] = (out / "positions.jsonl").read_text(encoding="utf-8").splitlines()
    netted = json.loads(line)
    assert (netted["side"], netted["contracts"], netted["hedged"]) == ("long", 0.5, True)
    assert _breaks(_held_ledger(), out) == []


def test_spot_and_contract_symbols_are_two_accounts_and_a_window_must_be_forward(
    venue: Venue, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    both = recon_fetch(
        venue, out, "--symbol", "BTC/USDT", "--symbol", PERP, "--since", "2020-02-22",
        "--until", "2020-02-23",
    )  # fmt: skip
    assert both.exit_code == 2
    assert "one statement is one account, and these symbols are in 2 (linear: " in both.stderr
    assert "spot: BTC/USDT): fetch each into a folder of its own" in both.stderr
    backwards = _fetch(venue, out, "2020-02-22T01:00:00", "2020-02-22T00:00:00")
    assert backwards.exit_code == 2
    assert "--until 2020-02-22T00:00:00 is not after --since 2020-02-22T01:00:00" in (
        backwards.stderr
    )
    assert not out.exists()
