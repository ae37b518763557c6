"""The telemetry schema: every table a run or an import writes, as pyarrow schemas.

Written by the paper engine (:mod:`stratops.paper.telemetry`) and by the importers of the desk's
real fills and quotes (:mod:`stratops.telemetry.importers`); read by
:mod:`stratops.telemetry.reader`. Documented column by column in ``docs/telemetry.md``.

Conventions: every timestamp is ``timestamp[ns, tz=UTC]``; quantities are base units, prices
and money quote currency; ``symbol`` is ``BASE/QUOTE``. Market ``trades`` and ``quotes`` carry
the columns of the paper engine's market-data frames
(:data:`stratops.paper.marketdata.schema.TRADE_COLUMNS`, ``QUOTE_COLUMNS``): ``ts`` is the time
the desk received the message, the clock both streams share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from stratops.paper.marketdata.schema import NS_PER_SECOND, format_step

TS = pa.timestamp("ns", tz="UTC")
RUN_FILE: Final = "run.json"
IMPORT_FILE: Final = "import.json"


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


TRADES_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("symbol", pa.string()),
        ("price", pa.float64()),
        ("qty", pa.float64()),
        ("side", pa.string()),
        ("exchange_ts", TS),
        ("trade_id", pa.int64()),
    ]
)
QUOTES_SCHEMA = pa.schema(
    [
        ("ts", TS),
        ("symbol", pa.string()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("bid_size", pa.float64()),
        ("ask_size", pa.float64()),
    ]
)
MARKET_SCHEMAS: dict[str, pa.Schema] = {"trades": TRADES_SCHEMA, "quotes": QUOTES_SCHEMA}
TABLES: Final = ("fills", *SCHEMAS, *MARKET_SCHEMAS)


def schema_of(name: str) -> pa.Schema:
    """The schema of table ``name``; ``fills`` without markout columns (they vary by run)."""
    if name == "fills":
        return fills_schema(())
    if name in SCHEMAS:
        return SCHEMAS[name]
    if name in MARKET_SCHEMAS:
        return MARKET_SCHEMAS[name]
    raise ValueError(f"unknown telemetry table {name!r}; expected one of {', '.join(TABLES)}")
