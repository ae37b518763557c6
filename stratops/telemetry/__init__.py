"""Telemetry: the schema of what a deployment did, a reader, and importers of real fills and quotes.

- :mod:`stratops.telemetry.schema` defines every table (fills, orders, positions, pnl, latency,
  events, and the market's trades and quotes); ``docs/telemetry.md`` documents it.
- :mod:`stratops.telemetry.reader` loads one table of a run, or of every run of a deployment, for a
  time window, reading only the partitions and row groups the window needs.
- :mod:`stratops.telemetry.importers` parses the desk's own exports (ccxt trades, tardis.dev CSV,
  Binance websocket captures) into the same tables; :mod:`stratops.telemetry.writer` writes them.

The paper engine writes (:mod:`stratops.paper.telemetry`); the controller and the analytics read.
"""
