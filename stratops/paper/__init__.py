"""Paper-trading engine and market-data replay: the local runtime's strategy host.

One engine serves backtests and paper trading, so the two cannot disagree:

- :mod:`stratops.paper.marketdata` loads real exchange data into one normalised schema
  (UTC nanosecond timestamps) and repairs or rejects bad data with a typed report.
- :mod:`stratops.paper.execution` is the pure simulator: target positions to orders to fills
  with latency, spread, square-root impact, fees and a participation cap.
- :mod:`stratops.paper.engine` runs an MLflow pyfunc strategy over a market, in one chunk
  (``backtest``) or paced by a clock (``paper``), and :mod:`stratops.paper.telemetry` writes
  what happened as Parquet (schema in ``docs/telemetry.md``).
- :mod:`stratops.paper.process` is the long-running paper process a deployment runs.
"""
