"""The paper venue's statement: what the simulated exchange says happened, in ccxt's terms.

Written from the execution simulator's own records (:class:`~stratops.paper.execution.BarRecords`),
not from the strategy's telemetry, into ``<run>/venue/`` as JSON lines of ccxt's unified
structures: ``trades.jsonl`` (trade: ``id``, ``order``, ``timestamp`` in ms, ``symbol``,
``side``, ``takerOrMaker``, ``price``, ``amount``, ``cost``, ``fee``), ``orders.jsonl``
(order: ``id``, ``clientOrderId`` — the engine's order id —, ``status`` closed when filled in
full, else canceled: the rest of an order is cancelled at the end of its bar), ``positions.jsonl``
(position per symbol), ``balances.jsonl`` (one balance, ``total`` by asset: the allocation in
the quote currency, moved by every trade and fee) and ``funding.jsonl`` (funding payments).
:mod:`stratops.ops.reconciliation.statement` reads it. Files are replaced atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from stratops.files import replace_file
from stratops.paper.execution import BarRecords, SymbolData
from stratops.paper.telemetry import order_ids

VENUE_DIR: Final = "venue"
NS_PER_MS: Final = 1_000_000
VENUE_ORDER_OFFSET: Final = 10**12  # venue order ids: integers (the importer reads them as such)
FRAME_COLUMNS: Final = (
    "symbol",
    "order",
    "ts",
    "close_ts",
    "ordered",
    "filled",
    "price",
    "fee",
    "funding",
    "position",
)


def _assets(symbol: str) -> tuple[str, str]:
    base, _, rest = symbol.partition("/")
    return base, rest.partition(":")[0]


def _frame(datas: Sequence[SymbolData], records: Sequence[BarRecords | None]) -> pd.DataFrame:
    parts = []
    for column, (data, rec) in enumerate(zip(datas, records, strict=True)):
        if rec is None:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "symbol": data.symbol,
                    "order": order_ids(rec.bar, len(datas), column),
                    "ts": rec.arrival_time,
                    "close_ts": data.ts[rec.bar] + data.step_ns,
                    "ordered": rec.ordered,
                    "filled": rec.filled,
                    "price": rec.fill_price,
                    "fee": rec.fee,
                    "funding": rec.funding,
                    "position": rec.position,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(FRAME_COLUMNS))
    return pd.concat(parts, ignore_index=True).sort_values(["ts", "order"], kind="stable")


def statement(
    datas: Sequence[SymbolData],
    records: Sequence[BarRecords | None],
    *,
    allocation: float,
    liquidity: str,
    as_of_ns: int,
) -> dict[str, list[dict[str, Any]]]:
    """The statement's structures, by file stem (see the module docstring)."""
    frame = _frame(datas, records)
    quote = {d.symbol: _assets(d.symbol)[1] for d in datas}
    base = {d.symbol: _assets(d.symbol)[0] for d in datas}
    filled = frame[frame["filled"] != 0]
    sent = frame[frame["ordered"] != 0]
    amount = filled["filled"].abs()
    trades = pd.DataFrame(
        {
            "id": filled["order"].astype(str),
            "order": (filled["order"] + VENUE_ORDER_OFFSET).astype(str),
            "timestamp": filled["ts"] // NS_PER_MS,
            "symbol": filled["symbol"],
            "type": "market" if liquidity == "taker" else "limit",
            "side": np.where(filled["filled"] > 0, "buy", "sell"),
            "takerOrMaker": liquidity,
            "price": filled["price"],
            "amount": amount,
            "cost": amount * filled["price"],
            "fee": [
                {"cost": float(c), "currency": quote[s]}
                for c, s in zip(filled["fee"], filled["symbol"], strict=True)
            ],
        }
    )
    complete = sent["filled"].abs() >= sent["ordered"].abs()
    orders = pd.DataFrame(
        {
            "id": (sent["order"] + VENUE_ORDER_OFFSET).astype(str),
            "clientOrderId": sent["order"].astype(str),
            "timestamp": sent["ts"] // NS_PER_MS,
            "symbol": sent["symbol"],
            "side": np.where(sent["ordered"] > 0, "buy", "sell"),
            "amount": sent["ordered"].abs(),
            "filled": sent["filled"].abs(),
            "remaining": sent["ordered"].abs() - sent["filled"].abs(),
            "status": np.where(complete, "closed", "canceled"),
        }
    )
    last = frame.groupby("symbol", sort=True).last()
    positions = pd.DataFrame(
        {
            "symbol": last.index,
            "side": np.where(last["position"] < 0, "short", "long"),
            "contracts": last["position"].abs().to_numpy(np.float64),
            "timestamp": as_of_ns // NS_PER_MS,
        }
    )
    cash = -(filled["filled"] * filled["price"]) - filled["fee"]
    total: dict[str, float] = dict.fromkeys(quote.values(), 0.0)
    first_quote = next(iter(quote.values()), None)
    if first_quote is not None:
        total[first_quote] += allocation
    for asset, value in cash.groupby(filled["symbol"].map(quote)).sum().items():
        total[str(asset)] += float(value)
    for asset, value in filled["filled"].groupby(filled["symbol"].map(base)).sum().items():
        total[str(asset)] = total.get(str(asset), 0.0) + float(value)
    paid = frame[frame["funding"] != 0]
    funding = pd.DataFrame(
        {
            "symbol": paid["symbol"],
            "amount": paid["funding"],
            "currency": paid["symbol"].map(quote),
            "timestamp": paid["close_ts"] // NS_PER_MS,
        }
    )
    balance = {"timestamp": as_of_ns // NS_PER_MS, "total": dict(sorted(total.items()))}
    return {
        "trades": _records(trades),
        "orders": _records(orders),
        "positions": _records(positions),
        "balances": [balance],
        "funding": _records(funding),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _write_lines(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    replace_file(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def write_statement(folder: Path, files: Mapping[str, list[dict[str, Any]]]) -> None:
    """Write every structure as ``<folder>/<name>.jsonl``, each file atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in sorted(files.items()):
        _write_lines(folder / f"{name}.jsonl", rows)
