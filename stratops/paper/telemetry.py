"""Telemetry of a run: Parquet tables the analytics and the controller read.

One folder per run holds ``fills``, ``orders``, ``positions``, ``pnl``, ``latency`` and
``events`` as Parquet, plus ``run.json``; the schema is :data:`SCHEMAS` and is documented in
``docs/telemetry.md``. Files are replaced atomically (write, then rename), so a reader never
sees half a file, even while a paper run is still writing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stratops.paper.execution import BarRecords, SymbolData, mids_after
from stratops.paper.marketdata.schema import NS_PER_SECOND, BoolArray, FloatArray, format_step

TS = pa.timestamp("ns", tz="UTC")
RUN_FILE = "run.json"


def horizon_label(seconds: int) -> str:
    """Column suffix of a markout horizon: 1s, 10s, 1m, 5m, 1h."""
    return format_step(seconds * NS_PER_SECOND)


def fills_schema(horizons: Sequence[int]) -> pa.Schema:
    """Schema of ``fills.parquet`` for the given markout horizons (seconds)."""
    return pa.schema(
        [
            ("ts", TS),
            ("symbol", pa.string()),
            ("side", pa.string()),
            ("quantity", pa.float64()),
            ("price", pa.float64()),
            ("fee", pa.float64()),
            ("liquidity", pa.string()),
            ("order_id", pa.int64()),
            ("ordered_quantity", pa.float64()),
            ("decision_time", TS),
            ("data_time", TS),
            ("decision_price", pa.float64()),
            ("arrival_time", TS),
            ("arrival_price", pa.float64()),
            ("half_spread_bps", pa.float64()),
            ("impact_bps", pa.float64()),
            ("market_volume", pa.float64()),
            ("participation", pa.float64()),
            *[(f"mid_after_{horizon_label(h)}", pa.float64()) for h in horizons],
        ]
    )


ORDERS_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("symbol", pa.string()),
        ("order_id", pa.int64()),
        ("side", pa.string()),
        ("quantity", pa.float64()),
        ("filled_quantity", pa.float64()),
        ("cancelled_quantity", pa.float64()),
        ("status", pa.string()),
        ("decision_time", TS),
        ("data_time", TS),
        ("decision_price", pa.float64()),
        ("arrival_price", pa.float64()),
        ("target_quantity", pa.float64()),
        ("position_before", pa.float64()),
    ]
)
POSITIONS_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("symbol", pa.string()),
        ("target_fraction", pa.float64()),
        ("target_quantity", pa.float64()),
        ("position", pa.float64()),
        ("mark_price", pa.float64()),
        ("notional", pa.float64()),
        ("exposure", pa.float64()),
    ]
)
PNL_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("symbol", pa.string()),
        ("gross", pa.float64()),
        ("delay_cost", pa.float64()),
        ("spread_cost", pa.float64()),
        ("impact_cost", pa.float64()),
        ("fees", pa.float64()),
        ("funding", pa.float64()),
        ("net", pa.float64()),
    ]
)
LATENCY_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("symbol", pa.string()),
        ("order_id", pa.int64()),
        ("tick_to_order_ms", pa.float64()),
        ("order_to_venue_ms", pa.float64()),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("symbol", pa.string()),
        ("kind", pa.string()),
        ("value", pa.float64()),
        ("applied", pa.float64()),
        ("limit", pa.float64()),
        ("action", pa.string()),
    ]
)
SCHEMAS: dict[str, pa.Schema] = {
    "orders": ORDERS_SCHEMA,
    "positions": POSITIONS_SCHEMA,
    "pnl": PNL_SCHEMA,
    "latency": LATENCY_SCHEMA,
    "events": EVENTS_SCHEMA,
}


def concat_records(chunks: Sequence[BarRecords]) -> BarRecords:
    """One :class:`BarRecords` from consecutive chunks of the same symbol."""
    return BarRecords(
        **{f.name: np.concatenate([getattr(c, f.name) for c in chunks]) for f in fields(BarRecords)}
    )


@dataclass(frozen=True)
class RiskEvents:
    """Risk events of one symbol: bar of the decision, kind, raw and applied target."""

    bar: np.ndarray
    kind: np.ndarray
    value: FloatArray
    applied: FloatArray


def risk_events(
    raw: FloatArray, applied: FloatArray, not_finite: BoolArray, over: BoolArray, first_bar: int
) -> RiskEvents:
    """Risk events of one symbol's chunk of decisions (``nan_target``, ``over_limit``)."""
    hit = not_finite | over
    index = np.flatnonzero(hit)
    kind = np.where(not_finite[index], "nan_target", "over_limit")
    return RiskEvents(index + first_bar, kind, raw[index], applied[index])


def _side(quantity: FloatArray) -> np.ndarray:
    return np.where(quantity > 0, "buy", "sell")


def _table(columns: Mapping[str, Any], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}, schema=schema)


def _order(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    return np.lexsort((secondary, primary))


def build_tables(
    datas: Sequence[SymbolData],
    records: Sequence[BarRecords],
    events: Sequence[Sequence[RiskEvents]],
    *,
    allocation: float,
    max_fraction: float,
    liquidity: str,
    horizons: Sequence[int],
    until_ns: int,
) -> dict[str, pa.Table]:
    """Every telemetry table of a run so far.

    Parameters
    ----------
    datas
        The replay of each symbol.
    records
        All bars simulated so far, per symbol.
    events
        Risk events per symbol.
    allocation
        Capital of the run (exposure is notional over allocation).
    max_fraction
        The limit the risk events refer to.
    liquidity
        ``taker`` for market orders, ``maker`` for limit orders.
    horizons
        Markout horizons in seconds.
    until_ns
        Market time seen so far: mids after it are not known yet (NaN).

    Returns
    -------
    dict of str to pyarrow.Table
        Keyed by file stem: fills, orders, positions, pnl, latency, events. Rows are sorted by
        time then symbol, so a backtest and a paper run of the same bars give equal tables.
    """
    count = len(datas)
    parts: dict[str, list[dict[str, Any]]] = {name: [] for name in (*SCHEMAS, "fills")}
    horizons_ns = tuple(h * NS_PER_SECOND for h in horizons)
    for column, (data, rec) in enumerate(zip(datas, records, strict=True)):
        symbol = np.full(len(rec.bar), data.symbol, dtype=object)
        order_id = rec.bar * count + column
        close_ts = data.ts[rec.bar] + data.step_ns
        sent = rec.ordered != 0
        filled = rec.filled != 0
        parts["positions"].append(
            {
                "ts": close_ts,
                "symbol": symbol,
                "target_fraction": rec.fraction,
                "target_quantity": rec.target,
                "position": rec.position,
                "mark_price": rec.mark,
                "notional": rec.position * rec.mark,
                "exposure": np.abs(rec.position * rec.mark) / allocation,
                "_key": order_id,
            }
        )
        parts["pnl"].append(
            {
                "ts": close_ts,
                "symbol": symbol,
                "gross": rec.gross,
                "delay_cost": rec.delay_cost,
                "spread_cost": rec.spread_cost,
                "impact_cost": rec.impact_cost,
                "fees": rec.fee,
                "funding": rec.funding,
                "net": rec.net,
                "_key": order_id,
            }
        )
        remaining = np.abs(rec.ordered) - np.abs(rec.filled)
        status = np.where(~filled, "unfilled", np.where(remaining > 0, "partial", "filled"))
        parts["orders"].append(
            {
                "ts": rec.arrival_time[sent],
                "symbol": symbol[sent],
                "order_id": order_id[sent],
                "side": _side(rec.ordered[sent]),
                "quantity": np.abs(rec.ordered[sent]),
                "filled_quantity": np.abs(rec.filled[sent]),
                "cancelled_quantity": remaining[sent],
                "status": status[sent],
                "decision_time": rec.decision_time[sent],
                "data_time": rec.data_time[sent],
                "decision_price": rec.decision_price[sent],
                "arrival_price": rec.arrival_price[sent],
                "target_quantity": rec.target[sent],
                "position_before": (rec.position - rec.filled)[sent],
                "_key": order_id[sent],
            }
        )
        parts["latency"].append(
            {
                "ts": rec.decision_time[sent],
                "symbol": symbol[sent],
                "order_id": order_id[sent],
                "tick_to_order_ms": rec.tick_to_order_ms[sent],
                "order_to_venue_ms": rec.order_to_venue_ms[sent],
                "_key": order_id[sent],
            }
        )
        mids = mids_after(rec.arrival_time[filled], horizons_ns, data, until_ns)
        quantity = np.abs(rec.filled[filled])
        fill_columns: dict[str, Any] = {
            "ts": rec.arrival_time[filled],
            "symbol": symbol[filled],
            "side": _side(rec.filled[filled]),
            "quantity": quantity,
            "price": rec.fill_price[filled],
            "fee": rec.fee[filled],
            "liquidity": np.full(int(filled.sum()), liquidity, dtype=object),
            "order_id": order_id[filled],
            "ordered_quantity": np.abs(rec.ordered[filled]),
            "decision_time": rec.decision_time[filled],
            "data_time": rec.data_time[filled],
            "decision_price": rec.decision_price[filled],
            "arrival_time": rec.arrival_time[filled],
            "arrival_price": rec.arrival_price[filled],
            "half_spread_bps": rec.half_spread[filled] * 1e4,
            "impact_bps": rec.impact[filled] * 1e4,
            "market_volume": rec.volume[filled],
            "participation": quantity / rec.volume[filled],
            "_key": order_id[filled],
        }
        for index, horizon in enumerate(horizons):
            fill_columns[f"mid_after_{horizon_label(horizon)}"] = mids[:, index]
        parts["fills"].append(fill_columns)
        ev = [e for e in events[column] if len(e.bar)]
        if ev:
            bar = np.concatenate([e.bar for e in ev])
            parts["events"].append(
                {
                    "ts": data.ts[bar] + data.step_ns,
                    "symbol": np.full(len(bar), data.symbol, dtype=object),
                    "kind": np.concatenate([e.kind for e in ev]),
                    "value": np.concatenate([e.value for e in ev]),
                    "applied": np.concatenate([e.applied for e in ev]),
                    "limit": np.full(len(bar), max_fraction),
                    "action": np.where(
                        np.concatenate([e.kind for e in ev]) == "nan_target", "flatten", "clip"
                    ),
                    "_key": bar * count + column,
                }
            )
    schemas = {**SCHEMAS, "fills": fills_schema(horizons)}
    tables = {}
    for name, schema in schemas.items():
        chunks = parts[name]
        if not chunks:
            tables[name] = schema.empty_table()
            continue
        merged = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
        order = _order(merged["ts"], merged["_key"])
        tables[name] = _table({k: v[order] for k, v in merged.items()}, schema)
    return tables


def write_table(table: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically (temporary file in the same folder, then rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, path)


def write_telemetry(folder: Path, tables: Mapping[str, pa.Table], run: Mapping[str, Any]) -> None:
    """Write every table as ``<name>.parquet`` and ``run`` as ``run.json``, atomically.

    Parameters
    ----------
    folder
        The run's telemetry folder (created if missing).
    tables
        From :func:`build_tables`.
    run
        JSON-able facts about the run (see ``docs/telemetry.md``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in sorted(tables.items()):
        write_table(table, folder / f"{name}.parquet")
    temporary = folder / f".{RUN_FILE}.tmp"
    temporary.write_text(
        json.dumps(run, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    os.replace(temporary, folder / RUN_FILE)
