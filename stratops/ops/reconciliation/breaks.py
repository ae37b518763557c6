"""The break table: one row per unmatched or mismatched item, with its class.

Columns: ``class`` (:class:`~stratops.model.reconciliation.BreakClass`), ``source``
(``ledger``, ``venue`` or ``both``: where the item is), ``symbol`` (a symbol or an asset),
``ts`` (int64 ns, the item's time; for amounts the statement's time), ``order_key``,
``trade_key``, ``ledger`` and ``venue`` (the two values compared, NaN when a side has none),
``detail`` (what differs, for people) and ``key``: the break's identity, stable between runs of
the same inputs, so a break seen again is the same break (see :mod:`.lifecycle`).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from stratops.model.reconciliation import BreakClass

BREAK_COLUMNS: Final = (
    "class",
    "source",
    "symbol",
    "ts",
    "order_key",
    "trade_key",
    "ledger",
    "venue",
    "detail",
    "key",
)


AS_OF_CLASSES: Final = frozenset(
    {
        BreakClass.POSITION_DRIFT.value,
        BreakClass.BALANCE_DRIFT.value,
        BreakClass.FUNDING.value,
        BreakClass.ORDER_STATE.value,
    }
)
"""Breaks of totals or states compared as of the run: their ``ts`` is the run's time."""


def make_breaks(
    kind: BreakClass,
    source: str,
    *,
    symbol: Any,
    ts: Any,
    ledger: Any = np.nan,
    venue: Any = np.nan,
    order_key: Any = -1,
    trade_key: Any = -1,
    detail: Any = "",
) -> pd.DataFrame:
    """Breaks of one class; every argument is a scalar or an array of the breaks' length."""
    symbols = np.asarray(symbol, dtype=object)
    count = symbols.size
    frame = pd.DataFrame(
        {
            "class": np.full(count, kind.value, dtype=object),
            "source": np.full(count, source, dtype=object),
            "symbol": symbols.reshape(count),
            "ts": np.broadcast_to(np.asarray(ts, dtype=np.int64), count),
            "order_key": np.broadcast_to(np.asarray(order_key, dtype=np.int64), count),
            "trade_key": np.broadcast_to(np.asarray(trade_key, dtype=np.int64), count),
            "ledger": np.broadcast_to(np.asarray(ledger, dtype=np.float64), count),
            "venue": np.broadcast_to(np.asarray(venue, dtype=np.float64), count),
            "detail": np.broadcast_to(np.asarray(detail, dtype=object), count),
        }
    )
    frame["key"] = ""
    return frame


def empty_breaks() -> pd.DataFrame:
    return make_breaks(BreakClass.DUPLICATE, "ledger", symbol=np.zeros(0, dtype=object), ts=0)


def combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """All breaks, sorted by (ts, class, symbol, order, trade), each with its identity key.

    The key is class, source, symbol, time, order and trade, plus an occurrence number for
    breaks that share them (two copies of one duplicated fill). The time of an amount or an
    order state (:data:`AS_OF_CLASSES`) is the run's, not the item's: it is left out, so the
    same drift found by the next run is the same break.
    """
    frames = [p for p in parts if len(p)]
    if not frames:
        return empty_breaks()
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(
        ["ts", "class", "symbol", "order_key", "trade_key", "source", "detail"], kind="stable"
    ).reset_index(drop=True)
    identity = (
        table["class"]
        + "/"
        + table["source"]
        + "/"
        + table["symbol"].astype(str)
        + "/"
        + table["ts"].astype(str).where(~table["class"].isin(AS_OF_CLASSES), "-")
        + "/"
        + table["order_key"].astype(str)
        + "/"
        + table["trade_key"].astype(str)
    )
    occurrence = identity.groupby(identity).cumcount()
    table["key"] = identity + "/" + occurrence.astype(str)
    return table
