"""``stratops recon fetch``: a venue statement fetched live with ccxt, from a stand-in Binance.

Binance cannot run here, so ``fake_binance.py`` (a separate process) answers the REST calls
ccxt's ``binance`` class makes, checking each request's path, parameters and signature, from
an account made of real trades: the 25 BTCUSDT trades of the Binance websocket capture in
``tests/fixtures/telemetry/binance-ws-spot-btcusdt.txt`` (2024-08-08 23:54, source in that
folder's README), taken as the desk's own taker fills, one market order each (the ledger knows
its client order ids, not the venue's trade ids), 0.1 % commission in USDT. The desk's ledger
of the same fills reconciles clean with the fetched statement; a trade the venue lost, or one
the desk did not send, is a break.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from binance_venue import KEY, SECRET, Venue, credentials, recon_fetch, running, taker_fills
from typer.testing import Result

from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.ops.reconciliation import fetch
from stratops.ops.reconciliation.compare import Book, reconcile
from stratops.ops.reconciliation.ledger import implied_balances
from stratops.ops.reconciliation.statement import read_statement

CAPTURE = Path(__file__).parents[1] / "fixtures" / "telemetry" / "binance-ws-spot-btcusdt.txt"
SINCE, UNTIL = "2024-08-08T23:54:00", "2024-08-09T00:00:00"
SINCE_MS = 1723161240000
OPENING = {"USDT": Decimal(100_000), "BTC": Decimal(1)}
FEE = Decimal("0.001")
CLIENT_BASE, VENUE_BASE = 1000, 28_000_000_000
ENV = credentials("binance")


def _capture() -> list[dict[str, Any]]:
    """The capture's trade messages, in order."""
    lines = CAPTURE.read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line.split(" ", 1)[1]) for line in lines]
    return [m["data"] for m in messages if m.get("stream", "").endswith("@trade")]


def _fills() -> pd.DataFrame:
    """The capture's trades as the desk's taker fills, with its order ids (the ledger's)."""
    raw = _capture()
    return taker_fills(
        [t["T"] for t in raw],
        "BTC/USDT",
        ["sell" if t["m"] else "buy" for t in raw],  # the buyer is the maker: we sold
        [t["p"] for t in raw],
        [t["q"] for t in raw],
        [t["t"] for t in raw],
        FEE,
        CLIENT_BASE,
    )


def _account(fills: pd.DataFrame) -> dict[str, Any]:
    """The venue's side of the same fills, in Binance's response shapes."""
    trades, orders = [], []
    balances = dict(OPENING)
    for row in fills.itertuples():
        price, qty = Decimal(row.price_text), Decimal(row.qty_text)
        quote, buy = price * qty, row.side == "buy"
        balances["BTC"] += qty if buy else -qty
        balances["USDT"] += (-quote if buy else quote) - quote * FEE
        trades.append(
            {"symbol": "BTCUSDT", "id": int(row.id), "orderId": VENUE_BASE + int(row.order_key),
             "orderListId": -1, "price": row.price_text, "qty": row.qty_text,
             "quoteQty": f"{quote:.8f}", "commission": f"{quote * FEE:.8f}",
             "commissionAsset": "USDT", "time": int(row.ts) // 1_000_000, "isBuyer": buy,
             "isMaker": False, "isBestMatch": True}
        )  # fmt: skip
    for client, group in fills.groupby("order_key"):
        qty = sum((Decimal(q) for q in group["qty_text"]), Decimal(0))
        quote = sum(
            (
                Decimal(p) * Decimal(q)
                for p, q in zip(group.price_text, group.qty_text, strict=True)
            ),
            Decimal(0),
        )
        placed = int(group["ts"].min()) // 1_000_000 - 3
        orders.append(
            {"symbol": "BTCUSDT", "orderId": VENUE_BASE + int(client), "orderListId": -1,
             "clientOrderId": str(client), "price": "0.00000000", "origQty": f"{qty:.8f}",
             "executedQty": f"{qty:.8f}", "cummulativeQuoteQty": f"{quote:.8f}",
             "status": "FILLED", "timeInForce": "GTC", "type": "MARKET",
             "side": group["side"].iloc[0].upper(), "stopPrice": "0.00000000",
             "icebergQty": "0.00000000", "time": placed,
             "updateTime": int(group["ts"].max()) // 1_000_000, "isWorking": True,
             "workingTime": placed, "origQuoteOrderQty": "0.00000000",
             "selfTradePreventionMode": "EXPIRE_MAKER"}
        )  # fmt: skip
    return {
        "apiKey": KEY,
        "secret": SECRET,
        "symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT"}],
        "trades": trades,
        "orders": orders,
        "balances": [
            {"asset": a, "free": f"{v:.8f}", "locked": "0.00000000"} for a, v in balances.items()
        ],
        "updateTime": int(fills["ts"].max()) // 1_000_000 + 1000,
    }


def _ledger(fills: pd.DataFrame) -> Book:
    frame = fills.drop(columns=["id", "price_text", "qty_text"])
    orders = frame.groupby("order_key", as_index=False).agg(
        symbol=("symbol", "first"), filled=("quantity", "sum")
    )
    return Book(
        fills=frame,
        orders=orders.assign(status="filled"),
        balances=implied_balances(frame, {k: float(v) for k, v in OPENING.items()}),
    )


@pytest.fixture(scope="module")
def fills() -> pd.DataFrame:
    return _fills()


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory, fills: pd.DataFrame) -> Iterator[Venue]:
    with running(tmp_path_factory.mktemp("binance"), _account(fills)) as stand_in:
        yield stand_in


def _fetch(
    venue: Venue, out: Path, *extra: str, env: dict[str, str] | None = None, name: str = "binance"
) -> Result:
    window = ["--since", SINCE, "--until", UNTIL]
    return recon_fetch(venue, out, "--symbol", "BTC/USDT", *window, *extra, name=name, env=env)


def _breaks(fills: pd.DataFrame, out: Path) -> list[str]:
    statement, _ = read_statement(out)
    found = reconcile(_ledger(fills), statement, ReconciliationPolicySpec(), 2_000_000_000 * 10**9)
    return sorted(found["class"].tolist())


def test_a_fetched_statement_reconciles_clean_with_the_ledger(
    venue: Venue, fills: pd.DataFrame, tmp_path: Path
) -> None:
    venue.requests()
    out = tmp_path / "statements" / "btc-trend--live"
    result = _fetch(venue, out)
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    counts = {kind: written[kind] for kind in ("trades", "orders", "positions", "funding")}
    orders = len(fills["order_key"].unique())
    assert counts == {"trades": 25, "orders": orders, "positions": None, "funding": None}
    assert sorted(p.name for p in out.iterdir()) == [
        "balances.jsonl", "orders.jsonl", "trades.jsonl"
    ]  # fmt: skip
    assert _breaks(fills, out) == []

    seen = venue.requests()
    assert {r["code"] for r in seen} == {0}, seen
    paths = [r["path"] for r in seen]
    assert {"/api/v3/exchangeInfo", "/api/v3/myTrades", "/api/v3/allOrders"} <= set(paths)
    assert paths[-1] == "/api/v3/account"
    [trades] = [r["params"] for r in seen if r["path"] == "/api/v3/myTrades"]
    assert (trades["symbol"], trades["startTime"], trades["endTime"], trades["limit"]) == (
        "BTCUSDT", str(SINCE_MS), str(SINCE_MS + 6 * 60_000), "500"
    )  # fmt: skip
    assert "timestamp" in trades

    statement, as_of = read_statement(out)
    assert as_of == (int(fills["ts"].max()) // 1_000_000 + 1000) * 1_000_000  # updateTime
    assert statement.fills["trade_key"].tolist() == [t["t"] for t in _capture()]


def test_pages_follow_time_and_a_millisecond_fuller_than_a_page_is_refused(
    venue: Venue, fills: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue.requests()
    monkeypatch.setattr(fetch, "PAGE", 10)  # nine trades share 23:54:15.617
    paged = _fetch(venue, tmp_path / "paged")
    assert paged.exit_code == 0, paged.output
    assert _breaks(fills, tmp_path / "paged") == []
    starts = [r["params"]["startTime"] for r in venue.requests() if r["path"].endswith("myTrades")]
    assert starts == [str(SINCE_MS), "1723161255617", "1723161255621", "1723161255625"]
    cut = _fetch(venue, tmp_path / "cut", "--until", "2024-08-08T23:54:15")
    assert (json.loads(cut.stdout)["trades"], json.loads(cut.stdout)["orders"]) == (0, 0)
    monkeypatch.setattr(fetch, "PAGE", 4)
    crowded = _fetch(venue, tmp_path / "crowded")
    assert crowded.exit_code == 2
    assert "more than 4 items at 1723161255617 ms to fetch the trades of BTC/USDT" in (
        crowded.stderr
    )
    assert not (tmp_path / "crowded").exists()


def test_an_order_placed_before_since_and_filled_after_is_fetched_by_its_id(
    venue: Venue, fills: pd.DataFrame, tmp_path: Path
) -> None:
    venue.requests()
    first = _capture()[0]["T"]  # its order was placed 3 ms earlier
    since = pd.Timestamp(first - 1, unit="ms").strftime("%Y-%m-%dT%H:%M:%S.%f")
    result = _fetch(venue, tmp_path / "out", "--since", since)
    assert result.exit_code == 0, result.output
    assert _breaks(fills, tmp_path / "out") == []
    [one] = [r for r in venue.requests() if r["path"] == "/api/v3/order"]
    assert one["params"]["orderId"] == str(VENUE_BASE + CLIENT_BASE) and one["code"] == 0


def test_a_trade_the_venue_lost_and_one_the_desk_did_not_send_are_breaks(
    venue: Venue, fills: pd.DataFrame, tmp_path: Path
) -> None:
    account = _account(fills)
    lost = {**account, "trades": [t for t in account["trades"] if t["id"] != fills["id"][7]]}
    manual = {**account["trades"][3], "id": 1, "orderId": 99}  # an order from the web page
    web = {**account["orders"][3], "orderId": 99, "clientOrderId": "web_4d9f0c2a7b1e"}
    extra = {**account, "trades": [*account["trades"], manual],
             "orders": [*account["orders"], web]}  # fmt: skip
    try:
        venue.write(lost)
        assert _fetch(venue, tmp_path / "lost").exit_code == 0
        assert _breaks(fills, tmp_path / "lost") == ["missing_external"]
        venue.write(extra)
        fetched = _fetch(venue, tmp_path / "manual")
        assert fetched.exit_code == 0, fetched.output
        assert _breaks(fills, tmp_path / "manual") == ["external_activity"]
    finally:
        venue.write(account)


def test_wrong_credentials_venue_or_symbol_exit_2_and_write_nothing(
    venue: Venue, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    refused = _fetch(venue, out, env={**ENV, "STRATOPS_BINANCE_SECRET": "not-the-secret"})
    assert refused.exit_code == 2
    assert "binance refused the credentials" in refused.stderr
    assert "Signature for this request is not valid" in refused.stderr
    other_key = _fetch(venue, out, env={**ENV, "STRATOPS_BINANCE_API_KEY": "someone-else"})
    assert other_key.exit_code == 2 and "Invalid API-key" in other_key.stderr
    missing = _fetch(venue, out, env={"STRATOPS_BINANCE_API_KEY": KEY})
    assert missing.exit_code == 2
    assert "no credentials for binance: set STRATOPS_BINANCE_SECRET" in missing.stderr
    symbol = _fetch(venue, out, "--symbol", "ETH/BTC")
    assert symbol.exit_code == 2 and "binance does not list ETH/BTC" in symbol.stderr
    unknown = _fetch(venue, out, name="binanse", env={"STRATOPS_BINANSE_API_KEY": KEY})
    assert unknown.exit_code == 2
    assert "no credentials for binanse: set STRATOPS_BINANSE_SECRET" in unknown.stderr
    typo = credentials("binanse")
    unknown = _fetch(venue, out, name="binanse", env=typo)
    assert unknown.exit_code == 2 and "unknown venue 'binanse'" in unknown.stderr
    assert not out.exists()


def test_an_unreachable_venue_exits_3(tmp_path: Path) -> None:
    closed = Venue(tmp_path)
    closed.url = "http://127.0.0.1:9"  # discard: nothing listens
    result = _fetch(closed, tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "binance is unavailable to load the markets" in result.stderr
    assert not (tmp_path / "out").exists()


def test_without_the_extra_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ccxt", None)  # import ccxt raises ImportError
    result = _fetch(Venue(tmp_path), tmp_path / "out")
    assert result.exit_code == 2
    assert "pip install 'stratops[ccxt]'" in result.stderr
