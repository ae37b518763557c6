"""Read a deployment's ledger: what it believes, from its telemetry (adapter).

Fills, orders, the last position of each symbol and the funding it booked come from the
telemetry tables (:func:`stratops.telemetry.reader.read`); balances are implied by the fills:
the run's allocation (``run.json`` ``config.allocation``) in the quote currency of its first
symbol, moved by every fill's cost and fee, and the base asset by every fill's quantity. The
ledger books fees in the quote currency.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from stratops.ops.reconciliation.compare import Book
from stratops.ops.reconciliation.frames import NO_KEY, TRADE
from stratops.telemetry import reader
from stratops.telemetry.schema import RUN_FILE


def _ns(table: pa.Table, column: str) -> np.ndarray:
    return np.asarray(table.column(column).cast(pa.int64()).to_numpy(), dtype=np.int64)


def _assets(symbols: pd.Series) -> pd.DataFrame:
    return symbols.astype("string").str.extract(r"^(?P<base>[^/]+)/(?P<quote>[^:]+)")


def _allocation(run: Path) -> tuple[float, str | None]:
    marker = run / RUN_FILE
    if not marker.is_file():
        return 0.0, None
    facts = json.loads(marker.read_text(encoding="utf-8"))
    symbols = facts.get("market", {}).get("symbols") or []
    quote = str(symbols[0]).partition("/")[2].partition(":")[0] if symbols else None
    return float(facts.get("config", {}).get("allocation", 0.0)), quote


def implied_balances(fills: pd.DataFrame, opening: dict[str, float]) -> pd.Series:
    """Balances by asset after ``fills`` (:mod:`.frames`) from ``opening`` balances."""
    assets = _assets(fills["symbol"])
    sign = np.where(fills["side"] == "buy", 1.0, -1.0)
    quantity = sign * fills["quantity"].to_numpy(np.float64)
    cash = -quantity * fills["price"].to_numpy(np.float64) - np.nan_to_num(
        fills["fee"].to_numpy(np.float64)
    )
    moves = pd.concat(
        [
            pd.Series(quantity, index=assets["base"].to_numpy(object)),
            pd.Series(cash, index=assets["quote"].to_numpy(object)),
            pd.Series(opening, dtype=np.float64),
        ]
    )
    balances: pd.Series = moves.groupby(level=0).sum()
    return balances


def read_ledger(run: Path) -> Book:
    """The ledger of one run folder (``run.json`` and its tables)."""
    fills = reader.read(run, "fills")
    orders = reader.read(run, "orders")
    positions = reader.read(run, "positions", columns=["ts", "symbol", "position"])
    pnl = reader.read(run, "pnl", columns=["ts", "symbol", "funding"])
    symbol = pd.Series(fills.column("symbol").to_pylist(), dtype=object)
    order_id = fills.column("order_id")
    frame = pd.DataFrame(
        {
            "ts": _ns(fills, "ts"),
            "symbol": symbol,
            "side": fills.column("side").to_numpy(zero_copy_only=False),
            "quantity": fills.column("quantity").to_numpy(),
            "price": fills.column("price").to_numpy(),
            "fee": fills.column("fee").to_numpy(zero_copy_only=False),
            "fee_asset": _assets(symbol)["quote"].astype(object).to_numpy(),
            "order_key": order_id.fill_null(NO_KEY).to_numpy(),
            "trade_key": np.full(fills.num_rows, NO_KEY, dtype=np.int64),
            "activity": TRADE,
        }
    )
    order_frame = pd.DataFrame(
        {
            "order_key": orders.column("order_id").fill_null(NO_KEY).to_numpy(),
            "symbol": orders.column("symbol").to_numpy(zero_copy_only=False),
            "status": orders.column("status").to_numpy(zero_copy_only=False),
            "filled": orders.column("filled_quantity").to_numpy(),
        }
    )
    last = pd.Series(
        positions.column("position").to_numpy(),
        index=positions.column("symbol").to_numpy(zero_copy_only=False),
        dtype=np.float64,
    )
    funding = pd.Series(
        pnl.column("funding").to_numpy(),
        index=pnl.column("symbol").to_numpy(zero_copy_only=False),
        dtype=np.float64,
    )
    allocation, quote = _allocation(run)
    return Book(
        fills=frame,
        orders=order_frame,
        positions=last.groupby(level=0).last(),
        balances=implied_balances(frame, {quote: allocation} if quote else {}),
        funding=funding.groupby(level=0).sum(),
    )
