"""Read a venue statement: ccxt's unified structures as JSON lines, in one folder.

``<folder>/trades.jsonl`` holds trades (https://docs.ccxt.com/#/?id=trade-structure), parsed by
the ccxt importer (:func:`stratops.telemetry.importers.ccxt.parse_trades`); the optional files
are ``orders.jsonl`` (order structure: ``id``, ``clientOrderId``, ``symbol``, ``status``,
``filled``), ``balances.jsonl`` (balance structure, the last line counts: ``timestamp`` and
``total`` by asset), ``positions.jsonl`` (position structure: ``symbol``, ``side`` long or
short, ``contracts`` and, where a contract is not one unit of the base, ``contractSize``; the
last line of a symbol counts, in base units: contracts × contract size) and ``funding.jsonl``
(funding history: ``symbol``, ``amount``, ``timestamp``; ccxt's ``amount`` is received
positive and paid negative, the ledger books funding as a cost, so the venue's is negated to
compare). A file that is absent is not compared.

A trade's client order id is its ``clientOrderId`` when the export carries one, else that of
its ``order`` in ``orders.jsonl``; client order ids are the desk's integer order ids. The fee
is kept in the quote currency (a fee in the base is converted at the fill price); a fee in a
third currency keeps its amount and asset, and the ledger, which books fees in the quote,
disagrees with it (a ``fee`` break). A trade of ``type`` ``liquidation`` is the venue's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from stratops.model.problems import InvalidDocumentError, Problem
from stratops.ops.reconciliation.compare import Book
from stratops.ops.reconciliation.frames import LIQUIDATION, NO_KEY, TRADE, empty_orders
from stratops.telemetry.importers.ccxt import NS_PER_MS, parse_trades
from stratops.telemetry.importers.rows import Record, Rows, json_lines, json_object, records_frame

TRADES_FILE: Final = "trades.jsonl"
ORDERS_FILE: Final = "orders.jsonl"
BALANCES_FILE: Final = "balances.jsonl"
POSITIONS_FILE: Final = "positions.jsonl"
FUNDING_FILE: Final = "funding.jsonl"
FILES: Final = (TRADES_FILE, ORDERS_FILE, BALANCES_FILE, POSITIONS_FILE, FUNDING_FILE)


def _bad(path: Path, message: str, *, line: int | None = None, field: str = "") -> Exception:
    code = "recon.no_statement" if line is None and not field else "import.json"
    return InvalidDocumentError(
        [Problem(file=str(path), line=line, field=field, message=message, code=code)]
    )


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _rows(path: Path, fields: Iterable[str]) -> Rows:
    wanted = tuple(fields)

    def pick(_number: int, line: str) -> Record:
        value = json_object(line)
        return {name: value.get(name) for name in wanted}

    records, problems = json_lines(str(path), _lines(path), pick)
    frame, numbers = records_frame(records)
    rows = Rows(str(path), frame, numbers)
    rows.add(problems)
    return rows


def _keys(raw: pd.Series) -> np.ndarray:
    """Integer ids where the raw value is one, else :data:`NO_KEY`."""
    text = raw.astype("string").str.strip()
    whole = text.str.fullmatch(r"[+-]?\d{1,18}").fillna(False).to_numpy(np.bool_)
    keys = np.full(len(raw), NO_KEY, dtype=np.int64)
    keys[whole] = text[whole].astype("int64").to_numpy(np.int64)
    return keys


def _orders(path: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    if not path.is_file():
        return empty_orders(), {}
    rows = _rows(path, ("id", "clientOrderId", "symbol", "status", "filled"))
    symbol = rows.symbol("symbol")
    filled = rows.number("filled")
    status = rows.choice(
        "status",
        {"open": "open", "closed": "closed", "canceled": "canceled"},
        "open, closed or canceled",
    )
    rows.check()
    client = _keys(rows.raw("clientOrderId"))
    frame = pd.DataFrame(
        {"order_key": client, "symbol": symbol, "status": status, "filled": filled}
    )
    ids = rows.raw("id").astype("string")
    return frame[client != NO_KEY].reset_index(drop=True), dict(
        zip(ids[client != NO_KEY].tolist(), client[client != NO_KEY].tolist(), strict=True)
    )


def _trades(path: Path, client_of: dict[str, int]) -> pd.DataFrame:
    trades = parse_trades(str(path), _lines(path))
    raw = trades.rows
    own = _keys(raw.raw("clientOrderId"))
    via_order = raw.raw("order").astype("string").map(client_of).fillna(NO_KEY)
    order_key = np.where(own != NO_KEY, own, via_order.to_numpy(np.int64))
    ids = raw.raw("id").astype("string")
    trade_key = _keys(ids)
    odd = (trade_key == NO_KEY) & ids.notna().to_numpy(np.bool_)
    if odd.any():  # ids that are not integers: codes above every integer id
        trade_key[odd] = pd.factorize(ids[odd])[0] + 2**62
    third = ~np.isfinite(trades.fee) & np.isfinite(trades.fee_cost)
    fee_asset = np.where(third, trades.fee_currency.astype(object), trades.quote.astype(object))
    forced = (raw.raw("type").astype("string") == LIQUIDATION).fillna(False).to_numpy(np.bool_)
    return pd.DataFrame(
        {
            "ts": trades.ts,
            "symbol": trades.symbol,
            "side": trades.side,
            "quantity": trades.quantity,
            "price": trades.price,
            "fee": np.where(third, trades.fee_cost, trades.fee),
            "fee_asset": pd.Series(fee_asset, dtype=object).where(pd.notna(fee_asset), None),
            "order_key": order_key,
            "trade_key": trade_key,
            "activity": np.where(forced, LIQUIDATION, TRADE),
        }
    )


def _last_line(path: Path) -> dict[str, Any] | None:
    lines = [line for line in _lines(path) if line.strip()]
    if not lines:
        return None
    try:
        return json_object(lines[-1])
    except ValueError as exc:
        raise _bad(path, str(exc), line=len(lines)) from exc


def _balances(path: Path) -> tuple[pd.Series | None, int | None]:
    if not path.is_file():
        return None, None
    last = _last_line(path)
    if last is None:
        return pd.Series(dtype=np.float64), None
    total = last.get("total")
    if not isinstance(total, dict):
        raise _bad(path, "expected an object of asset: amount", field="total")
    stamp = last.get("timestamp")
    return pd.Series(total, dtype=np.float64), int(stamp) * NS_PER_MS if stamp else None


def _positions(path: Path) -> pd.Series | None:
    if not path.is_file():
        return None
    rows = _rows(path, ("symbol", "side", "contracts", "contractSize"))
    symbol = rows.symbol("symbol")
    side = rows.choice("side", {"long": "long", "short": "short"}, "long or short")
    contracts = rows.number("contracts")
    size = rows.number("contractSize", required=False, positive=True)
    rows.check()
    base = contracts * np.where(np.isnan(size), 1.0, size)
    signed = np.where(side == "short", -base, base)
    return pd.Series(signed, index=symbol, dtype=np.float64).groupby(level=0).last()


def _funding(path: Path) -> pd.Series | None:
    if not path.is_file():
        return None
    rows = _rows(path, ("symbol", "amount", "timestamp"))
    symbol = rows.symbol("symbol")
    amount = rows.number("amount")
    rows.timestamp("timestamp", NS_PER_MS)
    rows.check()
    cost = -amount  # ccxt's amount is received positive; the ledger's funding is a cost
    return pd.Series(cost, index=symbol, dtype=np.float64).groupby(level=0).sum()


def read_statement(folder: Path) -> tuple[Book, int | None]:
    """The venue's book from a statement folder, and the time of its balances (ns) if any.

    Raises
    ------
    InvalidDocumentError
        A bad line of any file (file, line, field and what was expected), or no
        ``trades.jsonl`` in ``folder`` (``recon.no_statement``).
    """
    trades_file = folder / TRADES_FILE
    if not trades_file.is_file():
        raise _bad(
            folder,
            "no venue statement: expected trades.jsonl (ccxt trades, one JSON object a line)",
        )
    orders, client_of = _orders(folder / ORDERS_FILE)
    balances, as_of = _balances(folder / BALANCES_FILE)
    book = Book(
        fills=_trades(trades_file, client_of),
        orders=orders,
        positions=_positions(folder / POSITIONS_FILE),
        balances=balances,
        funding=_funding(folder / FUNDING_FILE),
    )
    return book, as_of
