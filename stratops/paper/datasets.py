"""The market datasets shipped in ``stratops/data/market/`` (sources in its README), by name.

``binance-1m`` and ``binance-1h`` are candles; ``binance-ws-1s`` and ``tardis-1s`` are
one-second bars rebuilt from captured trades, with the captured quotes alongside (spread and
mid from the book, markouts at 1 s and 10 s).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stratops.analytics.regimes import HourOfWeekProfile, hour_of_week_profile, hourly_measures
from stratops.examples import DATA_DIR_ENV, market_data_dir, packaged_market_data
from stratops.paper.errors import ConfigError
from stratops.paper.market import Market, build_market
from stratops.paper.marketdata.loaders import (
    Loaded,
    RepairPolicy,
    read_bars,
    read_binance_capture,
    read_tardis,
)
from stratops.paper.marketdata.quality import DataQualityReport, grid_facts
from stratops.paper.marketdata.repair import bars_from_trades
from stratops.paper.marketdata.schema import NS_PER_SECOND

DEFAULT_DATA_DIR = packaged_market_data()


@dataclass(frozen=True)
class Dataset:
    """A named market: its venue, symbols, and how to load it from a data folder."""

    name: str
    venue: str
    description: str
    load: Callable[[Path, RepairPolicy], Market]
    files: tuple[str, ...]
    """Paths of its files, relative to the data folder."""


def _candles(name: str, files: dict[str, str]) -> Callable[[Path, RepairPolicy], Market]:
    def load(root: Path, policy: RepairPolicy) -> Market:
        bars = {
            symbol: read_bars(root / path, symbol, policy=policy, source=path)
            for symbol, path in files.items()
        }
        return build_market(name, "binance", bars)

    return load


def _ticks_to_market(name: str, venue: str, ticks: dict[str, tuple[Loaded, Loaded]]) -> Market:
    bars: dict[str, Loaded] = {}
    for symbol, (_, trades) in ticks.items():
        frame = bars_from_trades(trades.frame, NS_PER_SECOND, symbol)
        bars[symbol] = Loaded(frame, _bars_report(trades.report, frame))
    return build_market(name, venue, bars, {s: quotes for s, (quotes, _) in ticks.items()})


def _bars_report(trades: DataQualityReport, frame: pd.DataFrame) -> DataQualityReport:
    grid = grid_facts(
        frame["ts"].to_numpy(dtype=np.int64),
        frame["synthetic"].to_numpy(dtype=bool),
        frame["volume"].to_numpy(dtype=np.float64),
        NS_PER_SECOND,
    )
    return trades.with_grid(grid)


CAPTURE_PAIRS = (("BTC/USDT", "btcusdt"), ("ETH/USDT", "ethusdt"))


def _capture_file(pair: str) -> str:
    return f"binance-ws-capture/spot_{pair}_20240808T2358_4m.gz"


def _capture(root: Path, policy: RepairPolicy) -> Market:
    ticks = {}
    for symbol, pair in CAPTURE_PAIRS:
        path = _capture_file(pair)
        loaded = read_binance_capture([root / path], symbol, policy=policy, source=path)
        ticks[symbol] = (loaded.quotes, loaded.trades)
    return _ticks_to_market("binance-ws-1s", "binance", ticks)


def _tardis(root: Path, policy: RepairPolicy) -> Market:
    folder = root / "tardis-binance-futures"
    loaded = read_tardis(
        folder / "quotes_4m.csv.gz",
        folder / "trades_4m.csv.gz",
        "BTC/USDT",
        policy=policy,
        source="tardis-binance-futures/{quotes,trades}_4m.csv.gz",
    )
    return _ticks_to_market(
        "tardis-1s", "binance-futures", {"BTC/USDT": (loaded.quotes, loaded.trades)}
    )


BINANCE_1M = {
    "BTC/USDT": "binance-spot-1m/BTC_USDT-1m.feather",
    "ETH/USDT": "binance-spot-1m/ETH_USDT-1m.feather",
}
BINANCE_1H = {"BTC/USDT": "binance-spot-1h/BTC_USDT-1h.feather"}

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "binance-1m",
            "binance",
            "Binance spot BTC/USDT and ETH/USDT 1-minute candles, 2024-07-26 to 2024-08-25",
            _candles("binance-1m", BINANCE_1M),
            tuple(BINANCE_1M.values()),
        ),
        Dataset(
            "binance-1h",
            "binance",
            "Binance spot BTC/USDT 1-hour candles, 2017-08-17 to 2024-04-21 (28 gaps)",
            _candles("binance-1h", BINANCE_1H),
            tuple(BINANCE_1H.values()),
        ),
        Dataset(
            "binance-ws-1s",
            "binance",
            "Binance spot BTC/USDT and ETH/USDT websocket capture, 4 minutes: 1 s bars + quotes",
            _capture,
            tuple(_capture_file(pair) for _, pair in CAPTURE_PAIRS),
        ),
        Dataset(
            "tardis-1s",
            "binance-futures",
            "Binance futures BTCUSDT (tardis.dev sample), 4 minutes: 1-second bars + quotes",
            _tardis,
            ("tardis-binance-futures/quotes_4m.csv.gz", "tardis-binance-futures/trades_4m.csv.gz"),
        ),
    )
}


def load_dataset(
    name: str,
    *,
    data_dir: Path | None = None,
    policy: RepairPolicy = RepairPolicy.REPAIR,
    symbols: list[str] | None = None,
) -> Market:
    """Load a shipped dataset by name.

    Parameters
    ----------
    name
        A key of :data:`DATASETS`.
    data_dir
        Folder holding the files; when None, ``$STRATOPS_DATA_DIR`` or else the packaged
        ``stratops/data/market/``.
    policy
        Repair or reject defects.
    symbols
        Keep only these symbols (all when None).

    Returns
    -------
    Market
        The aligned market.

    Raises
    ------
    ConfigError
        Unknown dataset or symbol, a missing data folder, or a dataset's files missing there.
    """
    if name not in DATASETS:
        raise ConfigError(
            f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}",
            "config.dataset",
        )
    root = market_data_dir(data_dir)
    if not root.is_dir():
        raise ConfigError(
            f"no market data folder at {root}: pass --data-dir or set {DATA_DIR_ENV}",
            "config.data_dir",
        )
    dataset = DATASETS[name]
    missing = [path for path in dataset.files if not (root / path).is_file()]
    if missing:
        raise ConfigError(
            f"dataset {name} is not in {root}: missing {', '.join(missing)} "
            f"(pass --data-dir or set {DATA_DIR_ENV})",
            "config.data_dir",
        )
    market = dataset.load(root, policy)
    if symbols:
        unknown = sorted(set(symbols) - set(market.symbols))
        if unknown:
            raise ConfigError(
                f"{name} has no {', '.join(unknown)}; it has {', '.join(market.symbols)}",
                "config.symbols",
            )
        market = market.select(symbols)
    return market


def load_bar_files(
    files: dict[str, Path], *, policy: RepairPolicy = RepairPolicy.REPAIR, venue: str = "binance"
) -> Market:
    """A market from bar files given per symbol (``--bars SYMBOL=PATH``).

    Parameters
    ----------
    files
        Path of a bar file per symbol.
    policy
        Repair or reject defects.
    venue
        Venue of the data.

    Returns
    -------
    Market
        The aligned market, named after the files.
    """
    bars = {
        symbol: read_bars(path, symbol, policy=policy, source=path.name)
        for symbol, path in files.items()
    }
    return build_market("+".join(p.name for p in files.values()), venue, bars)


def symbol_hourly(market: Market) -> pd.DataFrame:
    """Volume, volatility and spread of every complete hour of the market's first symbol (its
    quotes' spreads where it has quotes)."""
    quotes = market.quotes[0]
    return hourly_measures(
        market.ts,
        market.close[:, 0],
        market.volume[:, 0],
        market.step_ns,
        *((quotes.ts, quotes.bid, quotes.ask) if quotes is not None else ()),
    )


def symbol_profile(
    market: Market, window: pd.Timedelta = pd.Timedelta(weeks=4)
) -> HourOfWeekProfile | None:
    """The hour-of-week profile of the market's first symbol (:func:`symbol_hourly`); None when
    the market holds no complete hour of bars."""
    hourly = symbol_hourly(market)
    if hourly.empty:
        return None
    return hour_of_week_profile(hourly, symbol=market.symbols[0], window=window)


def symbol_regimes(
    dataset: str, symbol: str, data_dir: Path | None = None
) -> tuple[HourOfWeekProfile | None, pd.DataFrame]:
    """The hour-of-week profile of ``symbol`` in ``dataset`` and its hourly measures, computed
    once per process for each data folder (the files do not change under a running process).

    Raises what :func:`load_dataset` raises; a failure is not cached.
    """
    return _symbol_regimes(dataset, symbol, market_data_dir(data_dir))


@functools.lru_cache(maxsize=64)
def _symbol_regimes(
    dataset: str, symbol: str, folder: Path
) -> tuple[HourOfWeekProfile | None, pd.DataFrame]:
    market = load_dataset(dataset, data_dir=folder, symbols=[symbol])
    return symbol_profile(market), symbol_hourly(market)
