"""Loaders on the real files and on corrupted copies; repair as a property."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.model.evidence import DataQuality
from stratops.paper.datasets import DEFAULT_DATA_DIR as DATA
from stratops.paper.errors import MarketDataError
from stratops.paper.marketdata.loaders import (
    RepairPolicy,
    read_bars,
    read_binance_capture,
    read_tardis,
)
from stratops.paper.marketdata.repair import bars_from_trades, repair_bars

MINUTE = 60 * 1_000_000_000
BTC_1M = DATA / "binance-spot-1m" / "BTC_USDT-1m.feather"
BTC_1H = DATA / "binance-spot-1h" / "BTC_USDT-1h.feather"
CAPTURE = DATA / "binance-ws-capture" / "spot_btcusdt_20240808T2358_4m.gz"


def test_minute_candles_load_clean() -> None:
    loaded = read_bars(BTC_1M, "BTC/USDT", policy=RepairPolicy.REJECT)
    report = loaded.report
    assert len(loaded.frame) == 43_209
    assert report.issues == {}
    assert report.grid.max_staleness_seconds == 60.0
    assert report.fingerprint == hashlib.sha256(BTC_1M.read_bytes()).hexdigest()
    assert loaded.frame["ts"].is_monotonic_increasing
    assert str(loaded.frame["ts"].dtype) == "int64"


def test_hourly_candles_have_the_documented_gaps() -> None:
    loaded = read_bars(BTC_1H, "BTC/USDT")
    grid = loaded.report.grid
    assert (grid.gaps, grid.missing, grid.zero_volume) == (28, 128, 4)
    assert grid.rows == 58_419
    assert grid.expected_rows == 58_419 + 128
    evidence = loaded.report.to_evidence()
    assert isinstance(evidence, DataQuality)
    assert evidence.gaps == 28
    assert evidence.max_staleness_seconds == 34 * 3600.0
    synthetic = loaded.frame[loaded.frame["synthetic"]]
    assert (synthetic["volume"] == 0).all()
    assert (synthetic["open"] == synthetic["close"]).all()


def test_reject_policy_refuses_gaps() -> None:
    with pytest.raises(MarketDataError, match="28 gaps") as info:
        read_bars(BTC_1H, "BTC/USDT", policy=RepairPolicy.REJECT)
    assert info.value.code == "market_data.rejected"


def _corrupt(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    frame = pd.read_feather(BTC_1M).iloc[:200].copy()
    frame.loc[10, "close"] = np.nan  # an invalid row
    frame.loc[20, "high"] = frame.loc[20, "low"] - 1  # high below low
    dropped = frame.drop(index=[50, 51, 52, 120])  # two gaps (3 + 1 bars); row 10 makes a third
    duplicated = pd.concat([dropped, dropped.iloc[[30, 31]]])  # two duplicates at the end
    shuffled = duplicated.iloc[np.r_[0:100, 150 : len(duplicated), 100:150]]  # out of order
    path = tmp_path / "corrupt.feather"
    shuffled.reset_index(drop=True).to_feather(path)
    return path, frame


def test_corrupted_copy_is_repaired_and_reported(tmp_path: Path) -> None:
    path, original = _corrupt(tmp_path)
    loaded = read_bars(path, "BTC/USDT")
    report = loaded.report
    assert report.invalid == 1
    assert report.duplicates == 2
    assert report.bad_ohlc == 1
    assert report.out_of_order > 0
    assert (report.grid.gaps, report.grid.missing) == (3, 5)
    assert report.grid.expected_rows == 200
    bars = loaded.frame
    assert bars["ts"].is_monotonic_increasing and bars["ts"].is_unique
    assert (bars["high"] >= bars[["open", "close", "low"]].max(axis=1)).all()
    real = bars[~bars["synthetic"]].set_index("ts")
    source = original.assign(ts=original["date"].astype("int64")).set_index("ts")
    common = real.index.intersection(source.index.drop(source.index[20]))
    pd.testing.assert_series_equal(real.loc[common, "close"], source.loc[common, "close"])


def test_corrupted_copy_is_rejected(tmp_path: Path) -> None:
    path, _ = _corrupt(tmp_path)
    with pytest.raises(MarketDataError, match="duplicates"):
        read_bars(path, "BTC/USDT", policy=RepairPolicy.REJECT)


def test_unreadable_and_wrong_files(tmp_path: Path) -> None:
    garbage = tmp_path / "bars.parquet"
    garbage.write_bytes(b"not parquet")
    with pytest.raises(MarketDataError, match="cannot read"):
        read_bars(garbage, "BTC/USDT")
    columns = tmp_path / "bars.csv"
    columns.write_text("when,price\n1,2\n")
    with pytest.raises(MarketDataError, match="expected a time column"):
        read_bars(columns, "BTC/USDT")
    nan_only = tmp_path / "nan.csv"
    nan_only.write_text("date,open,high,low,close,volume\n2024-01-01,,,,,1\n2024-01-02,,,,,1\n")
    with pytest.raises(MarketDataError, match="no valid bar"):
        read_bars(nan_only, "BTC/USDT")


def test_zero_volume_is_reported_not_rejected(tmp_path: Path) -> None:
    frame = pd.read_feather(BTC_1M).iloc[:50].copy()
    frame.loc[5:7, "volume"] = 0.0
    path = tmp_path / "quiet.feather"
    frame.to_feather(path)
    report = read_bars(path, "BTC/USDT", policy=RepairPolicy.REJECT).report
    assert report.grid.zero_volume == 3
    assert report.grid.max_staleness_seconds == 4 * 60.0


def test_capture_and_tardis_load() -> None:
    ticks = read_binance_capture([CAPTURE], "BTC/USDT")
    quotes, trades = ticks.quotes.frame, ticks.trades.frame
    assert len(quotes) > 20_000 and len(trades) > 5_000
    assert (quotes["bid"] < quotes["ask"]).all()
    assert set(trades["side"]) == {"buy", "sell"}
    assert quotes["ts"].is_monotonic_increasing
    tardis = read_tardis(
        DATA / "tardis-binance-futures" / "quotes_4m.csv.gz",
        DATA / "tardis-binance-futures" / "trades_4m.csv.gz",
        "BTC/USDT",
    )
    assert len(tardis.quotes.frame) == 9_999
    assert len(tardis.trades.frame) == 536


def test_capture_with_broken_lines_counts_them(tmp_path: Path) -> None:
    with gzip.open(CAPTURE, "rt") as handle:
        lines = handle.read().splitlines()[:1000]
    lines[10] = "12345 {not json"
    lines[20] = lines[20].replace('"b":"', '"b":"x')  # unparsable price
    path = tmp_path / "broken.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    ticks = read_binance_capture([path], "BTC/USDT")
    assert ticks.quotes.report.invalid >= 1
    with pytest.raises(MarketDataError):
        read_binance_capture([path], "BTC/USDT", policy=RepairPolicy.REJECT)


def test_bars_rebuilt_from_capture_trades_match_the_candles() -> None:
    trades = read_binance_capture([CAPTURE], "BTC/USDT").trades.frame
    by_venue_time = trades.assign(ts=trades["exchange_ts"]).sort_values("ts", kind="stable")
    rebuilt = bars_from_trades(by_venue_time, MINUTE, "BTC/USDT").iloc[1:-1]  # full minutes
    candles = read_bars(BTC_1M, "BTC/USDT").frame.set_index("ts").loc[rebuilt["ts"]]
    assert len(rebuilt) == 3
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(rebuilt[column].to_numpy(), candles[column].to_numpy())
    np.testing.assert_allclose(rebuilt["volume"].to_numpy(), candles["volume"].to_numpy())


@st.composite
def damaged_bars(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, set[int], int]:
    """A clean grid, and a copy with interior bars deleted, rows duplicated, rows shuffled."""
    n = draw(st.integers(3, 40))
    start = draw(st.integers(0, 10_000)) * MINUTE
    ts = start + np.arange(n, dtype=np.int64) * MINUTE
    close = np.round(100 + np.cumsum(draw(st.lists(st.floats(-1, 1), min_size=n, max_size=n))), 2)
    clean = pd.DataFrame({"ts": ts, "open": close, "close": close, "volume": 1.0})
    clean = clean.assign(high=close + 1, low=close - 1)
    deleted = set(draw(st.lists(st.integers(1, n - 2), max_size=n // 2)))
    kept = clean.drop(index=sorted(deleted))
    copies = draw(st.lists(st.sampled_from(list(kept.index)), max_size=10))
    damaged = pd.concat([kept, kept.loc[copies]])
    order = draw(st.permutations(list(range(len(damaged)))))
    return clean, damaged.iloc[list(order)].reset_index(drop=True), deleted, len(copies)


def _runs(indices: set[int]) -> int:
    return sum(1 for i in indices if i - 1 not in indices)


@settings(max_examples=150, deadline=None)
@given(damaged_bars())
def test_any_damage_is_repaired_to_a_regular_grid(
    case: tuple[pd.DataFrame, pd.DataFrame, set[int], int],
) -> None:
    clean, damaged, deleted, copies = case
    bars, counts, grid = repair_bars(damaged, MINUTE, "BTC/USDT")
    np.testing.assert_array_equal(bars["ts"].to_numpy(), clean["ts"].to_numpy())
    assert counts.duplicates == copies
    assert (grid.missing, grid.gaps) == (len(deleted), _runs(deleted))
    assert grid.rows + grid.missing == grid.expected_rows == len(clean)
    assert (counts.out_of_order == 0) == bool(np.all(np.diff(damaged["ts"].to_numpy()) >= 0))
    real = ~bars["synthetic"].to_numpy()
    np.testing.assert_array_equal(bars["close"].to_numpy()[real], clean["close"].to_numpy()[real])
    assert list(np.flatnonzero(~real)) == sorted(deleted)
    previous_close = bars["close"].shift(1).to_numpy()[~real]
    np.testing.assert_array_equal(bars["open"].to_numpy()[~real], previous_close)
