"""The paper engine's telemetry writer: a run's tables built from its simulated bars.

One folder per run holds ``fills``, ``orders``, ``positions``, ``pnl``, ``latency`` and
``events`` as Parquet, plus ``run.json``; the schema is :mod:`stratops.telemetry.schema`
(documented in ``docs/telemetry.md``) and :mod:`stratops.telemetry.reader` reads it. Files are
replaced atomically (write, then rename), so a reader never sees half a file, even while a paper
run is still writing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from stratops.files import replace_file
from stratops.paper.execution import BarRecords, SymbolData, mids_after
from stratops.paper.marketdata.schema import NS_PER_SECOND, BoolArray, FloatArray
from stratops.telemetry.schema import RUN_FILE, SCHEMAS, fills_schema, horizon_label
from stratops.telemetry.writer import write_table


def concat_records(chunks: Sequence[BarRecords]) -> BarRecords:
    """One :class:`BarRecords` from consecutive chunks of the same symbol."""
    return BarRecords(
        **{f.name: np.concatenate([getattr(c, f.name) for c in chunks]) for f in fields(BarRecords)}
    )


def select_records(records: BarRecords, keep: np.ndarray) -> BarRecords:
    """The rows of ``records`` where ``keep`` (a boolean mask) is True."""
    return BarRecords(**{f.name: getattr(records, f.name)[keep] for f in fields(BarRecords)})


@dataclass(frozen=True)
class RiskEvents:
    """Risk events of one symbol: bar of the decision, kind, raw and applied target, action."""

    bar: np.ndarray
    kind: np.ndarray
    value: FloatArray
    applied: FloatArray
    action: np.ndarray


def risk_events(
    raw: FloatArray, applied: FloatArray, not_finite: BoolArray, over: BoolArray, first_bar: int
) -> RiskEvents:
    """Risk events of one symbol's chunk of decisions (``nan_target``, ``over_limit``)."""
    hit = not_finite | over
    index = np.flatnonzero(hit)
    kind = np.where(not_finite[index], "nan_target", "over_limit")
    action = np.where(not_finite[index], "flatten", "clip")
    return RiskEvents(index + first_bar, kind, raw[index], applied[index], action)


def order_ids(bars: np.ndarray, symbols: int, column: int) -> np.ndarray:
    """The engine's order id of each bar of symbol ``column`` (of ``symbols``): unique per run."""
    return bars * symbols + column


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
        order_id = order_ids(rec.bar, count, column)
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
                    "action": np.concatenate([e.action for e in ev]),
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
    write_run(folder, run)


def write_run(folder: Path, run: Mapping[str, Any]) -> None:
    """Replace ``run.json`` in ``folder`` atomically."""
    replace_file(folder / RUN_FILE, json.dumps(run, indent=2, sort_keys=True, default=str) + "\n")
