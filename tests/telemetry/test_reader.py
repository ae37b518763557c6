"""The reader: a time window reads only the day partitions and row groups it needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from stratops.model.problems import InvalidDocumentError
from stratops.paper.telemetry import write_telemetry
from stratops.telemetry.importers import ImportFormat
from stratops.telemetry.reader import Window, plan, read, runs
from stratops.telemetry.schema import TRADES_SCHEMA, fills_schema
from stratops.telemetry.writer import import_file, write_tables

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telemetry"
DAY = datetime(2024, 8, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _hourly_trades(hours: int) -> pa.Table:
    times = [DAY + i * HOUR for i in range(hours)]
    return pa.Table.from_pydict(
        {
            "ts": times,
            "symbol": ["BTC/USDT"] * hours,
            "price": [50_000.0 + i for i in range(hours)],
            "qty": [0.1] * hours,
            "side": ["buy"] * hours,
            "exchange_ts": times,
            "trade_id": list(range(hours)),
        },
        schema=TRADES_SCHEMA,
    )


@pytest.fixture
def three_days(tmp_path: Path) -> Path:
    """72 hourly trades: a file per day, row groups of 6 hours (4 a day)."""
    write_tables(
        tmp_path / "run", {"trades": _hourly_trades(72)}, {"format": "test"}, rows_per_group=6
    )
    return tmp_path / "run"


def test_a_window_inside_one_row_group_reads_only_that_group(three_days: Path) -> None:
    window = Window(DAY + 30 * HOUR, DAY + 36 * HOUR)  # day 2, 06:00 to 12:00
    pieces = plan(three_days, "trades", window)
    assert [(Path(p.path).parent.name, p.row_groups) for p in pieces] == [("date=2024-08-06", (1,))]
    table = read(three_days, "trades", window)
    assert table["trade_id"].to_pylist() == list(range(30, 36))
    assert table.schema == TRADES_SCHEMA


def test_a_window_across_midnight_reads_two_groups_of_two_days(three_days: Path) -> None:
    window = Window(DAY + 22 * HOUR, DAY + 26 * HOUR)
    pieces = plan(three_days, "trades", window)
    assert [(Path(p.path).parent.name, p.row_groups) for p in pieces] == [
        ("date=2024-08-05", (3,)),
        ("date=2024-08-06", (0,)),
    ]
    assert read(three_days, "trades", window)["trade_id"].to_pylist() == [22, 23, 24, 25]


def test_open_and_empty_windows(three_days: Path) -> None:
    assert sum(len(p.row_groups) for p in plan(three_days, "trades")) == 12
    assert read(three_days, "trades").num_rows == 72
    assert read(three_days, "trades", Window(start=DAY + 70 * HOUR)).num_rows == 2
    later = Window(DAY + 100 * HOUR, DAY + 101 * HOUR)
    assert plan(three_days, "trades", later) == []
    assert read(three_days, "trades", later).schema == TRADES_SCHEMA
    assert read(three_days, "quotes").num_rows == 0  # the run has no quotes
    assert read(three_days, "trades", columns=["ts", "price"]).column_names == ["ts", "price"]


def _fills(hours: list[int], horizons: tuple[int, ...]) -> pa.Table:
    schema = fills_schema(horizons)
    rows = [
        {"ts": DAY + h * HOUR, "symbol": "BTC/USDT", "side": "buy", "quantity": 1.0, "price": 1.0}
        for h in hours
    ]
    return pa.Table.from_pylist(rows, schema=schema)


def _paper_run(folder: Path, hours: list[int], horizons: tuple[int, ...]) -> None:
    write_telemetry(folder, {"fills": _fills(hours, horizons)}, {"status": "completed"})


def test_a_paper_run_file_is_pruned_by_its_statistics(tmp_path: Path) -> None:
    _paper_run(tmp_path, [1, 2, 3], (60,))
    assert len(plan(tmp_path, "fills", Window(DAY + 2 * HOUR, DAY + 3 * HOUR))) == 1
    assert plan(tmp_path, "fills", Window(DAY + 5 * HOUR, None)) == []
    assert read(tmp_path, "fills", Window(DAY + 2 * HOUR, None)).num_rows == 2


def test_a_deployment_reads_every_run_below_it(tmp_path: Path) -> None:
    deployment = tmp_path / "btc-trend" / "canary"
    _paper_run(deployment / "v1" / "telemetry", [1, 5], (60,))
    _paper_run(deployment / "v2" / "telemetry", [3, 7], (60, 300))
    import_file(ImportFormat.CCXT, FIXTURES / "ccxt-trades.jsonl", deployment / "venue-fills")
    assert [p.relative_to(deployment).as_posix() for p in runs(deployment)] == [
        "v1/telemetry",
        "v2/telemetry",
        "venue-fills",
    ]
    fills = read(deployment, "fills", Window(DAY, DAY + 24 * HOUR))
    assert [t.hour for t in fills["ts"].to_pylist()] == [1, 3, 5, 7]
    assert "mid_after_5m" in fills.column_names  # null for v1's fills
    venue = read(deployment, "fills", Window(datetime(2024, 8, 8, tzinfo=UTC), None))
    assert venue.num_rows == 25
    assert json.loads((deployment / "venue-fills" / "import.json").read_text())["format"] == "ccxt"


def test_no_telemetry_and_bad_windows(tmp_path: Path) -> None:
    with pytest.raises(InvalidDocumentError) as exc:
        read(tmp_path, "fills")
    assert exc.value.problems[0].code == "telemetry.not_found"
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(datetime(2024, 8, 5), None)
    with pytest.raises(ValueError, match="before it starts"):
        Window(DAY + HOUR, DAY)
    with pytest.raises(ValueError, match="unknown telemetry table"):
        plan(tmp_path, "fils")
