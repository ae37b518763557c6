"""tardis.dev ``trades`` or ``quotes`` CSV into the ``trades`` or ``quotes`` table.

The data type is told by the header (https://docs.tardis.dev/downloadable-csv-files):

- trades: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``; ``side`` is the
  aggressor's, ``buy``, ``sell`` or ``unknown`` (null);
- quotes (top of book): ``exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,
  bid_price,bid_amount``.

Times are µs since the epoch. As in the schema, ``ts`` is ``local_timestamp`` (when the message
was received); a trade keeps the venue's ``timestamp`` as ``exchange_ts``, a quote only checks
it. Symbols such as ``BTCUSDT`` become ``BTC/USDT``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from stratops.model.problems import InvalidDocumentError, Problem
from stratops.telemetry.importers.rows import Rows, build_table
from stratops.telemetry.schema import QUOTES_SCHEMA, TRADES_SCHEMA

NS_PER_US: Final = 1_000
TRADE_HEADER: Final = ("symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount")
QUOTE_HEADER: Final = (
    "symbol",
    "timestamp",
    "local_timestamp",
    "ask_amount",
    "ask_price",
    "bid_price",
    "bid_amount",
)
SIDES: Final = {"buy": "buy", "sell": "sell", "unknown": None}
_BAD_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _frame(source: str, lines: Iterable[str]) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.StringIO("".join(lines)), dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    except pd.errors.EmptyDataError as exc:
        raise _header_problem(source, "an empty file") from exc
    except pd.errors.ParserError as exc:
        found = _BAD_LINE.search(str(exc))
        line = int(found.group(2)) if found else None
        message = (
            f"expected {found.group(1)} comma-separated fields, got {found.group(3)}"
            if found
            else f"not CSV ({exc})"
        )
        problem = Problem(file=source, line=line, message=message, code="import.csv")
        raise InvalidDocumentError([problem]) from exc


def _header_problem(source: str, got: str) -> InvalidDocumentError:
    expected = f"the header of tardis trades ({','.join(TRADE_HEADER)}) or quotes "
    expected += f"({','.join(QUOTE_HEADER)})"
    return InvalidDocumentError(
        [
            Problem(
                file=source, line=1, message=f"expected {expected}, got {got}", code="import.header"
            )
        ]
    )


def parse(source: str, lines: Iterable[str]) -> dict[str, pa.Table]:
    """The ``trades`` or ``quotes`` of a tardis.dev CSV file.

    Parameters
    ----------
    source
        The file's name, as problems name it.
    lines
        Its lines, the header first.

    Returns
    -------
    dict of str to pyarrow.Table
        ``{"trades": ...}`` or ``{"quotes": ...}``, sorted by ``ts``.

    Raises
    ------
    InvalidDocumentError
        A header of neither data type, or every bad row (line 2 is the first row).
    """
    frame = _frame(source, lines)
    header = set(frame.columns)
    rows = Rows(source, frame, np.arange(2, len(frame) + 2, dtype=np.int64))
    if header.issuperset(TRADE_HEADER):
        ts = rows.timestamp("local_timestamp", NS_PER_US)
        columns = {
            "ts": ts,
            "symbol": rows.symbol("symbol"),
            "price": rows.number("price", positive=True),
            "qty": rows.number("amount", positive=True),
            "side": rows.choice("side", SIDES, "buy, sell or unknown"),
            "exchange_ts": rows.timestamp("timestamp", NS_PER_US),
        }
        trade_id, has_id = rows.integer("id", required=False)
        rows.check()
        table = build_table(TRADES_SCHEMA, {**columns, "trade_id": trade_id}, {"trade_id": has_id})
        return {"trades": table}
    if header.issuperset(QUOTE_HEADER):
        columns = {
            "ts": rows.timestamp("local_timestamp", NS_PER_US),
            "symbol": rows.symbol("symbol"),
            "bid": rows.number("bid_price", positive=True),
            "ask": rows.number("ask_price", positive=True),
            "bid_size": rows.number("bid_amount"),
            "ask_size": rows.number("ask_amount"),
        }
        rows.timestamp("timestamp", NS_PER_US)  # checked; quotes keep the receive time only
        rows.check()
        return {"quotes": build_table(QUOTES_SCHEMA, columns)}
    raise _header_problem(source, ",".join(frame.columns))
