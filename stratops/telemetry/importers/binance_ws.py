"""Binance websocket captures into the ``trades`` and ``quotes`` tables.

Each line is ``<local ns timestamp> <json>``, the combined-stream message as received
(https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams)::

    1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,
      "s":"BTCUSDT","t":3735683259,"p":"61837.63","q":"0.02","T":1723161255342,"m":true}}
    1723161254087891268 {"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT",
      "b":"61837.63","B":"3.78826","a":"61837.64","A":"1.54698"}}

``trade`` → trades (``m``, buyer is maker, means the aggressor sold; ``T`` is the venue's
``exchange_ts``), ``bookTicker`` → quotes. ``ts`` is the local timestamp, the clock both
streams share (a spot ``bookTicker`` carries no venue time). Depth diffs, REST snapshots and
any other stream are skipped; spot and USDⓈ-M futures captures read alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pyarrow as pa

from stratops.telemetry.importers.rows import (
    Record,
    Rows,
    build_table,
    json_lines,
    json_object,
    records_frame,
)
from stratops.telemetry.schema import QUOTES_SCHEMA, TRADES_SCHEMA

NS_PER_MS: Final = 1_000_000
AGGRESSOR: Final = {"True": "sell", "False": "buy"}  # m: is the buyer the maker?
_TRADE_FIELDS: Final = ("s", "p", "q", "m", "T", "t")
_QUOTE_FIELDS: Final = ("s", "b", "B", "a", "A")


def _pick(_number: int, line: str) -> Record | None:
    stamp, _, payload = line.strip().partition(" ")
    message = json_object(payload)
    stream = message.get("stream")
    if not isinstance(stream, str):
        return None  # a REST snapshot or anything not from a combined stream
    data = message.get("data")
    if not isinstance(data, dict):
        raise ValueError(f"data: expected an object, got {data!r}")
    if stream.endswith("@trade"):
        return {"kind": "trade", "local_ns": stamp, **{k: data.get(k) for k in _TRADE_FIELDS}}
    if stream.endswith("@bookTicker"):
        return {"kind": "quote", "local_ns": stamp, **{k: data.get(k) for k in _QUOTE_FIELDS}}
    return None


def parse(source: str, lines: Iterable[str]) -> dict[str, pa.Table]:
    """The ``trades`` and ``quotes`` of one Binance websocket capture.

    Parameters
    ----------
    source
        The file's name, as problems name it.
    lines
        Its lines (decompressed).

    Returns
    -------
    dict of str to pyarrow.Table
        ``{"trades": ..., "quotes": ...}``, each sorted by ``ts``.

    Raises
    ------
    InvalidDocumentError
        Every bad line: not ``<integer> <json object>``, a missing or malformed field.
    """
    records, problems = json_lines(source, lines, _pick)
    frame, numbers = records_frame(records)
    kind = frame["kind"].to_numpy() if "kind" in frame else np.array([], dtype=object)
    trades = Rows(source, frame[kind == "trade"], numbers[kind == "trade"])
    quotes = Rows(source, frame[kind == "quote"], numbers[kind == "quote"])
    trades.add(problems)
    trade_columns = {
        "ts": trades.timestamp("local_ns", 1),
        "symbol": trades.symbol("s"),
        "price": trades.number("p", positive=True),
        "qty": trades.number("q", positive=True),
        "side": trades.choice("m", AGGRESSOR, "true or false (is the buyer the maker)"),
        "exchange_ts": trades.timestamp("T", NS_PER_MS),
    }
    trade_id, has_id = trades.integer("t", required=False)
    quote_columns = {
        "ts": quotes.timestamp("local_ns", 1),
        "symbol": quotes.symbol("s"),
        "bid": quotes.number("b", positive=True),
        "ask": quotes.number("a", positive=True),
        "bid_size": quotes.number("B"),
        "ask_size": quotes.number("A"),
    }
    trades.add(quotes.problems)
    trades.check()
    return {
        "trades": build_table(
            TRADES_SCHEMA, {**trade_columns, "trade_id": trade_id}, {"trade_id": has_id}
        ),
        "quotes": build_table(QUOTES_SCHEMA, quote_columns),
    }
