"""Adapters that read market-data files into the normalised schema.

Bars: Feather (freqtrade), Parquet or CSV with a time column (``ts``, ``date``, ``timestamp``
or ``time``) and ``open``, ``high``, ``low``, ``close``, ``volume``. Raw ticks: the Binance
websocket capture (gzip lines ``<local ns timestamp> <json>``) and tardis.dev CSV. Every
loader returns frames plus a :class:`~.quality.DataQualityReport`; decisions live in
:mod:`.repair`.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from stratops.paper.errors import MarketDataError
from stratops.paper.marketdata.quality import (
    DataQualityReport,
    GridFacts,
    combined_fingerprint,
    file_fingerprint,
)
from stratops.paper.marketdata.repair import RepairCounts, repair_bars, repair_ticks
from stratops.paper.marketdata.schema import NS_PER_SECOND, QUOTE_COLUMNS, TRADE_COLUMNS

TIME_COLUMNS = ("ts", "date", "timestamp", "time")


class RepairPolicy(StrEnum):
    """What a loader does with defective data: repair it (and report), or refuse it."""

    REPAIR = "repair"
    REJECT = "reject"


@dataclass(frozen=True)
class Loaded:
    """A normalised frame and the report of how it was obtained."""

    frame: pd.DataFrame
    report: DataQualityReport


def _read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith((".feather", ".arrow")):
            return pd.read_feather(path)
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise MarketDataError(f"{path}: cannot read ({exc})", "market_data.unreadable") from exc
    raise MarketDataError(
        f"{path}: unknown format; use .feather, .parquet, .csv or .csv.gz", "market_data.format"
    )


def to_epoch_ns(values: pd.Series) -> np.ndarray:
    """UTC nanoseconds from datetimes (naive ones are taken as UTC), ISO text or numbers.

    Numbers are read by magnitude: above 1e17 nanoseconds, above 1e14 microseconds, above
    1e11 milliseconds, else seconds (the epoch's first years are not market data).
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=np.float64)
        magnitude = float(np.nanmax(np.abs(numbers))) if len(numbers) else 0.0
        scale = (
            1
            if magnitude > 1e17
            else 1_000
            if magnitude > 1e14
            else 1_000_000
            if magnitude > 1e11
            else NS_PER_SECOND
        )
        return np.asarray(np.round(numbers * scale), dtype=np.int64)
    stamps = pd.to_datetime(values, utc=True)
    return np.asarray(stamps.dt.as_unit("ns").astype("int64"), dtype=np.int64)


def infer_step(ts: np.ndarray) -> int:
    """The most common positive difference between sorted unique bar times, in ns."""
    diffs = np.diff(np.unique(ts))
    diffs = diffs[diffs > 0]
    if len(diffs) == 0:
        raise MarketDataError(
            "cannot infer the bar size from fewer than two bar times", "market_data.step"
        )
    values, counts = np.unique(diffs, return_counts=True)
    return int(values[np.argmax(counts)])


def _report(
    source: str, fingerprint: str, counts: RepairCounts, grid: GridFacts
) -> DataQualityReport:
    return DataQualityReport(
        source=source,
        fingerprint=fingerprint,
        rows_in=counts.rows_in,
        invalid=counts.invalid,
        off_grid=counts.off_grid,
        out_of_order=counts.out_of_order,
        duplicates=counts.duplicates,
        bad_ohlc=counts.bad_ohlc,
        grid=grid,
    )


def enforce(report: DataQualityReport, policy: RepairPolicy) -> None:
    """Raise when ``policy`` is reject and the report has a structural issue.

    Zero-volume bars never cause a rejection: a minute without trades is a real market state.
    """
    if policy is RepairPolicy.REJECT and report.issues:
        raise MarketDataError(
            f"{report.source}: rejected, {report.describe()}; fix the file or load it with the "
            "repair policy (--on-bad-data repair)",
            "market_data.rejected",
        )


def read_bars(
    path: Path,
    symbol: str,
    *,
    step_ns: int | None = None,
    policy: RepairPolicy = RepairPolicy.REPAIR,
    source: str | None = None,
) -> Loaded:
    """Read a file of bars, repair it onto a regular grid and report what was done.

    Parameters
    ----------
    path
        Feather, Parquet or CSV file of bars.
    symbol
        ``BASE/QUOTE`` of the bars.
    step_ns
        Bar size; inferred as the most common time difference when None.
    policy
        Repair defects, or reject the file when it has any (see :func:`enforce`).
    source
        Name of the data in the report; the path when None.

    Returns
    -------
    Loaded
        Normalised bars and their report (fingerprint: sha256 of the file bytes).

    Raises
    ------
    MarketDataError
        Unreadable file, missing columns, no valid bar, or a rejected defect.
    """
    raw = _read_table(path)
    time_column = next((c for c in TIME_COLUMNS if c in raw.columns), None)
    needed = {"open", "high", "low", "close", "volume"}
    if time_column is None or not needed <= set(raw.columns):
        raise MarketDataError(
            f"{path}: expected a time column ({', '.join(TIME_COLUMNS)}) and "
            f"{', '.join(sorted(needed))}; found {', '.join(map(str, raw.columns))}",
            "market_data.columns",
        )
    try:
        ts = to_epoch_ns(raw[time_column])
    except (ValueError, TypeError) as exc:
        raise MarketDataError(
            f"{path}: cannot parse {time_column!r} as times ({exc})", "market_data.time"
        ) from exc
    frame = raw[sorted(needed)].astype(np.float64).assign(ts=ts)
    step = step_ns if step_ns is not None else infer_step(ts)
    bars, counts, grid = repair_bars(frame, step, symbol)
    report = _report(source or str(path), file_fingerprint(path), counts, grid)
    enforce(report, policy)
    return Loaded(bars, report)


@dataclass(frozen=True)
class Ticks:
    """Quotes and trades of one symbol, normalised, with one report each."""

    quotes: Loaded
    trades: Loaded


def _tick_report(
    source: str, fingerprint: str, counts: RepairCounts, ts: np.ndarray
) -> DataQualityReport:
    staleness = float(np.max(np.diff(ts))) / NS_PER_SECOND if len(ts) >= 2 else 0.0
    rows = len(ts)
    grid = GridFacts(
        start_ns=int(ts[0]) if rows else 0,
        end_ns=int(ts[-1]) if rows else 0,
        rows=rows,
        expected_rows=rows,
        gaps=0,
        missing=0,
        zero_volume=0,
        max_staleness_seconds=staleness,
    )
    return _report(source, fingerprint, counts, grid)


def read_binance_capture(
    paths: list[Path],
    symbol: str,
    *,
    policy: RepairPolicy = RepairPolicy.REPAIR,
    source: str | None = None,
) -> Ticks:
    """Quotes (``bookTicker``) and trades (``trade``) from Binance websocket capture files.

    Each line is ``<local ns timestamp> <json>``; ``ts`` is the local receive time, the clock
    both streams share (the venue's ``T`` is kept as ``exchange_ts`` on trades). The side of
    a trade is the aggressor's: ``m`` (buyer is maker) means a sell. Depth diffs and REST
    snapshots are skipped; a line that does not parse counts as invalid.

    Parameters
    ----------
    paths
        Capture files (``.gz`` or plain), in any order.
    symbol
        ``BASE/QUOTE`` of the stream, e.g. ``BTC/USDT``.
    policy
        Repair or reject defects.
    source
        Name of the data in the reports.

    Returns
    -------
    Ticks
        Normalised quotes and trades.
    """
    quotes: list[tuple[int, float, float, float, float]] = []
    trades: list[tuple[int, float, float, str, int]] = []
    broken = 0
    for path in paths:
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    stamp, _, payload = line.partition(" ")
                    try:
                        message = json.loads(payload)
                        stream = message.get("stream", "")
                        data = message.get("data", {})
                        if stream.endswith("@bookTicker"):
                            quotes.append(
                                (
                                    int(stamp),
                                    float(data["b"]),
                                    float(data["a"]),
                                    float(data["B"]),
                                    float(data["A"]),
                                )
                            )
                        elif stream.endswith("@trade"):
                            side = "sell" if data["m"] else "buy"
                            trades.append(
                                (
                                    int(stamp),
                                    float(data["p"]),
                                    float(data["q"]),
                                    side,
                                    int(data["T"]) * 1_000_000,
                                )
                            )
                    except (ValueError, KeyError, TypeError, AttributeError):
                        broken += 1
        except OSError as exc:
            raise MarketDataError(f"{path}: cannot read ({exc})", "market_data.unreadable") from exc
    name = source or " + ".join(str(p) for p in paths)
    fingerprint = combined_fingerprint([file_fingerprint(p) for p in paths])
    quote_frame = pd.DataFrame(quotes, columns=["ts", "bid", "ask", "bid_size", "ask_size"]).assign(
        symbol=symbol
    )
    trade_frame = pd.DataFrame(
        trades, columns=["ts", "price", "qty", "side", "exchange_ts"]
    ).assign(symbol=symbol)
    return Ticks(
        quotes=_ticks(
            quote_frame,
            ("bid", "ask"),
            QUOTE_COLUMNS,
            f"{name} (quotes)",
            fingerprint,
            broken,
            policy,
        ),
        trades=_ticks(
            trade_frame, ("price", "qty"), TRADE_COLUMNS, f"{name} (trades)", fingerprint, 0, policy
        ),
    )


def _ticks(
    frame: pd.DataFrame,
    price_columns: tuple[str, ...],
    columns: tuple[str, ...],
    source: str,
    fingerprint: str,
    broken: int,
    policy: RepairPolicy,
) -> Loaded:
    cleaned, counts = repair_ticks(frame, price_columns)
    counts = RepairCounts(
        rows_in=counts.rows_in + broken,
        invalid=counts.invalid + broken,
        off_grid=0,
        out_of_order=counts.out_of_order,
        duplicates=counts.duplicates,
        bad_ohlc=0,
    )
    report = _tick_report(source, fingerprint, counts, cleaned["ts"].to_numpy(dtype=np.int64))
    enforce(report, policy)
    return Loaded(cleaned[list(columns)], report)


def read_tardis(
    quotes_path: Path,
    trades_path: Path,
    symbol: str,
    *,
    policy: RepairPolicy = RepairPolicy.REPAIR,
    source: str | None = None,
) -> Ticks:
    """Quotes and trades from tardis.dev CSV (``quotes`` and ``trades`` data types).

    ``ts`` is ``local_timestamp`` (receive time, µs → ns); the venue's ``timestamp`` becomes
    ``exchange_ts`` on trades. ``side`` is the aggressor side as tardis gives it.

    Parameters
    ----------
    quotes_path, trades_path
        CSV or CSV.gz files.
    symbol
        ``BASE/QUOTE`` of the instrument.
    policy
        Repair or reject defects.
    source
        Name of the data in the reports; the paths when None.

    Returns
    -------
    Ticks
        Normalised quotes and trades.
    """
    quotes_name = f"{source} (quotes)" if source else str(quotes_path)
    trades_name = f"{source} (trades)" if source else str(trades_path)
    raw_quotes = _read_table(quotes_path)
    raw_trades = _read_table(trades_path)
    try:
        quotes = pd.DataFrame(
            {
                "ts": to_epoch_ns(raw_quotes["local_timestamp"]),
                "symbol": symbol,
                "bid": raw_quotes["bid_price"].astype(np.float64),
                "ask": raw_quotes["ask_price"].astype(np.float64),
                "bid_size": raw_quotes["bid_amount"].astype(np.float64),
                "ask_size": raw_quotes["ask_amount"].astype(np.float64),
            }
        )
        trades = pd.DataFrame(
            {
                "ts": to_epoch_ns(raw_trades["local_timestamp"]),
                "symbol": symbol,
                "price": raw_trades["price"].astype(np.float64),
                "qty": raw_trades["amount"].astype(np.float64),
                "side": raw_trades["side"].astype(str),
                "exchange_ts": to_epoch_ns(raw_trades["timestamp"]),
            }
        )
    except (KeyError, ValueError) as exc:
        raise MarketDataError(
            f"{quotes_path}, {trades_path}: not tardis quotes/trades CSV ({exc})",
            "market_data.columns",
        ) from exc
    return Ticks(
        quotes=_ticks(
            quotes,
            ("bid", "ask"),
            QUOTE_COLUMNS,
            quotes_name,
            file_fingerprint(quotes_path),
            0,
            policy,
        ),
        trades=_ticks(
            trades,
            ("price", "qty"),
            TRADE_COLUMNS,
            trades_name,
            file_fingerprint(trades_path),
            0,
            policy,
        ),
    )
