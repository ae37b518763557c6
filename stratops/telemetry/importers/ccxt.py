"""ccxt's unified trade structure, one JSON object a line, into ``fills``.

A desk exports its own fills with ccxt (``exchange.fetch_my_trades``) as JSON lines, one
unified trade each (https://docs.ccxt.com/#/?id=trade-structure)::

    {"id": "3735683259", "timestamp": 1723161255342, "symbol": "BTC/USDT", "order": "2871",
     "side": "buy", "takerOrMaker": "taker", "price": 61837.63, "amount": 0.02,
     "cost": 1236.75, "fee": {"cost": 1.2368, "currency": "USDT"}, "info": {...}}

Required: ``timestamp`` (ms), ``symbol``, ``side`` (buy, sell), ``price`` and ``amount`` (> 0,
numbers or numeric strings). Optional: ``takerOrMaker`` (→ ``liquidity``), ``order`` (an integer
order id, → ``order_id``), ``fee`` (``cost`` in ``currency``). The fee is recorded in the quote
currency: a fee paid in the base currency is converted at the fill price, one paid in a third
currency (BNB) is NaN, as is a missing fee. The columns the paper engine derives from its
simulation (decision and arrival prices, markouts) are null.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from stratops.paper.marketdata.schema import BoolArray, FloatArray, Int64Array
from stratops.telemetry.importers.rows import (
    Record,
    Rows,
    build_table,
    json_lines,
    json_object,
    records_frame,
)
from stratops.telemetry.schema import fills_schema

NS_PER_MS = 1_000_000
SIDES = {"buy": "buy", "sell": "sell"}
LIQUIDITY = {"taker": "taker", "maker": "maker"}
FIELDS = ("timestamp", "symbol", "side", "price", "amount", "takerOrMaker", "order")
# read for reconciliation (:mod:`stratops.ops.reconciliation.statement`), not for fills
STATEMENT_FIELDS = ("id", "clientOrderId", "type")


def _pick(_number: int, line: str) -> Record:
    trade = json_object(line)
    fee: Any = trade.get("fee")
    if fee is not None and not isinstance(fee, dict):
        raise ValueError(f"fee: expected an object {{cost, currency}}, got {fee!r}")
    return {
        **{name: trade.get(name) for name in (*FIELDS, *STATEMENT_FIELDS)},
        "fee.cost": (fee or {}).get("cost"),
        "fee.currency": (fee or {}).get("currency"),
    }


@dataclass(frozen=True)
class Trades:
    """The columns of parsed ccxt trades, one row per trade, in the file's order.

    ``fee`` is in the quote currency (NaN when unknown, see the module docstring);
    ``fee_currency``, ``id``, ``client_order_id``, ``type`` and ``order`` are the raw values.
    """

    rows: Rows
    ts: Int64Array
    symbol: npt.NDArray[np.object_]
    side: npt.NDArray[np.object_]
    price: FloatArray
    quantity: FloatArray
    liquidity: npt.NDArray[np.object_]
    order_id: Int64Array
    has_order: BoolArray
    fee: FloatArray
    fee_cost: FloatArray
    fee_currency: pd.Series
    base: pd.Series
    quote: pd.Series


def parse_trades(source: str, lines: Iterable[str]) -> Trades:
    """Parse and check a ccxt JSON-lines export; raises every bad line together.

    Raises
    ------
    InvalidDocumentError
        Every bad line: not a JSON object, a missing or malformed field.
    """
    records, problems = json_lines(source, lines, _pick)
    frame, numbers = records_frame(records)
    rows = Rows(source, frame, numbers)
    rows.add(problems)
    ts = rows.timestamp("timestamp", NS_PER_MS)
    symbol = rows.symbol("symbol")
    side = rows.choice("side", SIDES, "buy or sell")
    price = rows.number("price", positive=True)
    quantity = rows.number("amount", positive=True)
    liquidity = rows.choice("takerOrMaker", LIQUIDITY, "taker or maker", required=False)
    order_id, has_order = rows.integer("order", required=False)
    fee_cost = rows.number("fee.cost", required=False)
    rows.check()
    currency = rows.raw("fee.currency").astype("string")
    assets = pd.Series(symbol, dtype="string").str.extract(r"^([^/]+)/([^:]+)")
    in_quote = (currency == assets[1]).fillna(False).to_numpy(np.bool_)
    in_base = (currency == assets[0]).fillna(False).to_numpy(np.bool_)
    fee = np.where(in_quote, fee_cost, np.where(in_base, fee_cost * price, np.nan))
    return Trades(
        rows=rows,
        ts=ts,
        symbol=symbol,
        side=side,
        price=price,
        quantity=quantity,
        liquidity=liquidity,
        order_id=order_id,
        has_order=has_order,
        fee=fee,
        fee_cost=fee_cost,
        fee_currency=currency,
        base=assets[0],
        quote=assets[1],
    )


def parse(source: str, lines: Iterable[str]) -> dict[str, pa.Table]:
    """The ``fills`` of a ccxt JSON-lines export.

    Parameters
    ----------
    source
        The file's name, as problems name it.
    lines
        Its lines.

    Returns
    -------
    dict of str to pyarrow.Table
        ``{"fills": ...}`` with the schema ``fills_schema(())``, sorted by time.

    Raises
    ------
    InvalidDocumentError
        Every bad line: not a JSON object, a missing or malformed field.
    """
    trades = parse_trades(source, lines)
    columns = {
        "ts": trades.ts,
        "symbol": trades.symbol,
        "side": trades.side,
        "quantity": trades.quantity,
        "price": trades.price,
        "fee": trades.fee,
        "liquidity": trades.liquidity,
        "order_id": trades.order_id,
    }
    return {"fills": build_table(fills_schema(()), columns, {"order_id": trades.has_order})}
