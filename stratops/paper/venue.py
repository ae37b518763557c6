"""The paper venue's statement: what the execution simulator says it executed, as ccxt reports it.

A paper process is two parties: the strategy's side books its fills, orders and positions as
telemetry (the ledger, :mod:`.telemetry`); the venue's side — this module — reports the
simulator's own records of execution (:class:`~stratops.paper.execution.BarRecords`: the fill
price, quantity and fee it applied, the client order id it received) in ccxt's unified
structures, as an exchange adapter would export them, in ``<telemetry>/venue/``
(:data:`STATEMENT_FOLDER`), the statement the reconciliation reads for a paper deployment:

- ``trades.jsonl``: one ccxt trade per fill, with the venue's own trade and order ids (a trade
  sequence number, and the client order id in the venue's order number space);
- ``positions.jsonl``: one ccxt position per symbol whose position changed since the previous
  flush (the last line of a symbol counts).

Both files are append-only. Lines are appended at each flush, before the checkpoint that
counts them (:class:`VenueCursor`: the trades reported and the bytes of each file); a resumed
process first cuts what a process that died after appending, before its checkpoint, left
beyond those bytes, then appends again — the replay is deterministic, so with the same lines.
A trade is reported in the flush where the ledger books its fill (once its markouts are known),
so a clean run has no timing break.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from stratops.ops.reconciliation.statement import POSITIONS_FILE, TRADES_FILE
from stratops.paper.execution import NS_PER_MS, BarRecords, SymbolData
from stratops.paper.marketdata.schema import FloatArray
from stratops.paper.telemetry import order_ids

STATEMENT_FOLDER: Final = "venue"
VENUE_ORDER_BASE: Final = 10**12
"""The venue numbers its orders apart from the desk's client order ids."""


@dataclass(frozen=True)
class VenueCursor:
    """How much of the statement a checkpoint counts: trades reported, bytes of each file."""

    trades: int = 0
    sizes: dict[str, int] = field(default_factory=dict)

    def for_storage(self) -> dict[str, Any]:
        return {"trades": self.trades, "sizes": dict(self.sizes)}

    @classmethod
    def from_storage(cls, stored: dict[str, Any]) -> VenueCursor:
        sizes = stored["sizes"]
        if not isinstance(sizes, dict):
            raise TypeError("venue sizes must be an object of file: bytes")
        return cls(int(stored["trades"]), {str(k): int(v) for k, v in sizes.items()})


def statement_folder(telemetry: Path) -> Path:
    """Where the paper venue of the run in ``telemetry`` writes its statement."""
    return telemetry / STATEMENT_FOLDER


def _quote(symbol: str) -> str:
    return symbol.partition("/")[2].partition(":")[0]


def trade_lines(
    datas: Sequence[SymbolData], fills: Sequence[BarRecords], first_id: int
) -> list[str]:
    """ccxt trades (JSON lines) of the filled bars ``fills`` of each symbol, in time order,
    numbered from ``first_id``."""
    count = len(datas)
    columns = [
        (data.symbol, order_ids(rec.bar, count, column), rec)
        for column, (data, rec) in enumerate(zip(datas, fills, strict=True))
    ]
    arrival = np.concatenate([rec.arrival_time for _, _, rec in columns])
    client = np.concatenate([ids for _, ids, _ in columns])
    symbol = np.concatenate([np.full(len(ids), s, dtype=object) for s, ids, _ in columns])
    filled: FloatArray = np.concatenate([rec.filled for _, _, rec in columns])
    price: FloatArray = np.concatenate([rec.fill_price for _, _, rec in columns])
    fee: FloatArray = np.concatenate([rec.fee for _, _, rec in columns])
    order = np.lexsort((client, arrival))
    trade_id = np.arange(first_id, first_id + len(order))
    return [
        json.dumps(
            {
                "id": str(number),
                "order": str(VENUE_ORDER_BASE + int(client[row])),
                "clientOrderId": str(int(client[row])),
                "timestamp": int(arrival[row]) // NS_PER_MS,
                "symbol": symbol[row],
                "side": "buy" if filled[row] > 0 else "sell",
                "price": float(price[row]),
                "amount": float(abs(filled[row])),
                "fee": {"cost": float(fee[row]), "currency": _quote(symbol[row])},
                "type": "market",
            }
        )
        + "\n"
        for number, row in zip(trade_id.tolist(), order.tolist(), strict=True)
    ]


def position_lines(
    datas: Sequence[SymbolData], positions: Sequence[float], reported: Sequence[float], ms: int
) -> list[str]:
    """ccxt positions of the symbols whose position differs from the one ``reported`` (NaN:
    never reported), at ``ms``."""
    return [
        json.dumps(
            {
                "symbol": data.symbol,
                "side": "short" if now < 0 else "long",
                "contracts": abs(now),
                "timestamp": ms,
            }
        )
        + "\n"
        for data, now, before in zip(datas, positions, reported, strict=True)
        if now != before
    ]


def resume(folder: Path, cursor: VenueCursor) -> None:
    """Cut each statement file back to the bytes ``cursor`` counts (nothing for a fresh run)."""
    for name in (TRADES_FILE, POSITIONS_FILE):
        path = folder / name
        counted = cursor.sizes.get(name, 0)
        if path.is_file() and path.stat().st_size > counted:
            os.truncate(path, counted)


def append(
    folder: Path, cursor: VenueCursor, trades: list[str], positions: list[str]
) -> VenueCursor:
    """Append the lines (flushed to disk) and return the cursor that counts them."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = dict(cursor.sizes)
    for name, lines in ((TRADES_FILE, trades), (POSITIONS_FILE, positions)):
        path = folder / name
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        sizes[name] = path.stat().st_size
    return VenueCursor(cursor.trades + len(trades), sizes)
