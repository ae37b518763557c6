"""``Market``: aligned bars of one or more symbols (plus quotes where captured), as arrays.

The engine and the simulator read a market; loaders build it. Bars of every symbol share
one regular grid of bar open times ``ts``; a bar's data is known at its close,
``ts + step_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from stratops.paper.errors import ConfigError, MarketDataError
from stratops.paper.marketdata.loaders import Loaded
from stratops.paper.marketdata.quality import DataQualityReport, combine_reports, grid_facts
from stratops.paper.marketdata.schema import BoolArray, FloatArray, Int64Array, iso_utc

FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Quotes:
    """Top of book of one symbol: times (ns), best bid and ask."""

    ts: Int64Array
    bid: FloatArray
    ask: FloatArray

    def mid_at(self, times: Int64Array) -> FloatArray:
        """Mid of the last quote at or before each time; NaN before the first quote."""
        index = np.searchsorted(self.ts, times, side="right") - 1
        mid = (self.bid + self.ask) / 2
        return np.where(index >= 0, mid[np.maximum(index, 0)], np.nan)

    def half_spread_at(self, times: Int64Array) -> FloatArray:
        """Half the quoted spread over the mid, of the last quote at or before each time."""
        index = np.maximum(np.searchsorted(self.ts, times, side="right") - 1, 0)
        bid, ask = self.bid[index], self.ask[index]
        return (ask - bid) / (ask + bid)

    def between(self, start_ns: int, end_ns: int) -> Quotes:
        """Quotes received in ``[start_ns, end_ns)``."""
        lo, hi = np.searchsorted(self.ts, [start_ns, end_ns])
        return Quotes(self.ts[lo:hi], self.bid[lo:hi], self.ask[lo:hi])


@dataclass(frozen=True)
class Market:
    """Bars of ``symbols`` on one grid: arrays of shape (bars, symbols)."""

    name: str
    venue: str
    symbols: tuple[str, ...]
    step_ns: int
    ts: Int64Array
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    synthetic: BoolArray
    quotes: tuple[Quotes | None, ...]
    quality: DataQualityReport
    symbol_quality: tuple[DataQualityReport, ...]

    @property
    def bars(self) -> int:
        """Number of bars."""
        return len(self.ts)

    @property
    def close_ts(self) -> Int64Array:
        """Close time of each bar, when its data is known."""
        return self.ts + self.step_ns

    def mark(self) -> FloatArray:
        """Mark price at each bar's close: the quoted mid where quotes exist, else the close."""
        marks = self.close.copy()
        for column, quotes in enumerate(self.quotes):
            if quotes is not None:
                mid = quotes.mid_at(self.close_ts)
                marks[:, column] = np.where(np.isfinite(mid), mid, marks[:, column])
        return marks

    def bars_frame(self, stop: int) -> pd.DataFrame:
        """The strategy's input: bars ``[0, stop)`` as one row per bar time.

        Columns are ``ts`` (bar open time, UTC as timezone-naive ``datetime64[ns]``: MLflow's
        schema enforcement refuses timezone-aware columns) and, per symbol,
        ``<symbol>:open``, ``:high``, ``:low``, ``:close``, ``:volume``.
        """
        columns: dict[str, object] = {"ts": self.ts[:stop].astype("datetime64[ns]")}
        for column, symbol in enumerate(self.symbols):
            for field in FIELDS:
                columns[f"{symbol}:{field}"] = getattr(self, field)[:stop, column]
        return pd.DataFrame(columns)

    def select(self, symbols: list[str]) -> Market:
        """The market restricted to ``symbols``, in that order."""
        columns = [self.symbols.index(s) for s in symbols]
        reports = tuple(self.symbol_quality[c] for c in columns)
        return replace(
            self,
            symbols=tuple(symbols),
            open=self.open[:, columns],
            high=self.high[:, columns],
            low=self.low[:, columns],
            close=self.close[:, columns],
            volume=self.volume[:, columns],
            synthetic=self.synthetic[:, columns],
            quotes=tuple(self.quotes[c] for c in columns),
            quality=combine_reports(reports),
            symbol_quality=reports,
        )

    def between(self, start_ns: int | None, end_ns: int | None) -> Market:
        """Bars whose open time is in ``[start_ns, end_ns)``; the quality report follows.

        Raises
        ------
        ConfigError
            When the range holds fewer than two bars.
        """
        lo = 0 if start_ns is None else int(np.searchsorted(self.ts, start_ns))
        hi = self.bars if end_ns is None else int(np.searchsorted(self.ts, end_ns))
        if hi - lo < 2:
            first, last = iso_utc(int(self.ts[0])), iso_utc(int(self.ts[-1]))
            raise ConfigError(
                f"{self.name}: the range holds {max(hi - lo, 0)} bar(s); "
                f"the data covers {first} to {last}",
                "config.range",
            )
        rows = slice(lo, hi)
        reports = tuple(
            report.with_grid(
                grid_facts(
                    self.ts[rows], self.synthetic[rows, c], self.volume[rows, c], self.step_ns
                )
            )
            for c, report in enumerate(self.symbol_quality)
        )
        end = int(self.ts[hi - 1] + self.step_ns)
        return replace(
            self,
            ts=self.ts[rows],
            open=self.open[rows],
            high=self.high[rows],
            low=self.low[rows],
            close=self.close[rows],
            volume=self.volume[rows],
            synthetic=self.synthetic[rows],
            quotes=tuple(
                None if q is None else q.between(int(self.ts[lo]), end) for q in self.quotes
            ),
            quality=combine_reports(reports),
            symbol_quality=reports,
        )


def build_market(
    name: str, venue: str, bars: dict[str, Loaded], quotes: dict[str, Loaded] | None = None
) -> Market:
    """Align repaired bars of several symbols on their common range.

    Parameters
    ----------
    name
        Name of the market (the dataset).
    venue
        Venue of the data, e.g. ``binance``.
    bars
        Repaired bars per symbol (all with the same bar size).
    quotes
        Normalised quotes per symbol, where captured.

    Returns
    -------
    Market
        Bars from the latest first bar to the earliest last bar of the symbols.

    Raises
    ------
    MarketDataError
        Bar sizes differ or the symbols' ranges do not overlap.
    """
    symbols = tuple(bars)
    frames = [bars[s].frame for s in symbols]
    steps = {int(np.diff(f["ts"].to_numpy()[:2])[0]) if len(f) > 1 else 0 for f in frames}
    if len(steps) != 1 or 0 in steps:
        raise MarketDataError(
            f"{name}: symbols need one bar size and two bars each", "market_data.align"
        )
    step = steps.pop()
    start = max(int(f["ts"].iloc[0]) for f in frames)
    end = min(int(f["ts"].iloc[-1]) for f in frames)
    if end <= start:
        raise MarketDataError(
            f"{name}: the symbols' time ranges do not overlap", "market_data.align"
        )
    ts = np.arange(start, end + step, step, dtype=np.int64)
    aligned = [f.iloc[(start - int(f["ts"].iloc[0])) // step :][: len(ts)] for f in frames]

    def stack(field: str) -> np.ndarray:
        return np.column_stack([a[field].to_numpy() for a in aligned])

    reports = tuple(bars[s].report for s in symbols)
    quote_arrays = tuple(
        None
        if quotes is None or s not in quotes
        else Quotes(
            quotes[s].frame["ts"].to_numpy(dtype=np.int64),
            quotes[s].frame["bid"].to_numpy(dtype=np.float64),
            quotes[s].frame["ask"].to_numpy(dtype=np.float64),
        )
        for s in symbols
    )
    market = Market(
        name=name,
        venue=venue,
        symbols=symbols,
        step_ns=step,
        ts=ts,
        open=stack("open").astype(np.float64),
        high=stack("high").astype(np.float64),
        low=stack("low").astype(np.float64),
        close=stack("close").astype(np.float64),
        volume=stack("volume").astype(np.float64),
        synthetic=stack("synthetic").astype(bool),
        quotes=quote_arrays,
        quality=combine_reports(reports),
        symbol_quality=reports,
    )
    return market.between(None, None)
