"""Importers: each format to the schema, values checked by hand, bad rows named by line."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.model.problems import InvalidDocumentError
from stratops.paper.marketdata.schema import QUOTE_COLUMNS, TRADE_COLUMNS
from stratops.telemetry import writer
from stratops.telemetry.importers import PARSERS, ImportFormat, binance_ws, ccxt, tardis
from stratops.telemetry.importers.rows import venue_symbol
from stratops.telemetry.schema import QUOTES_SCHEMA, TRADES_SCHEMA, fills_schema
from stratops.telemetry.writer import import_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telemetry"


def _lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines(keepends=True)


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _problems(exc: pytest.ExceptionInfo[InvalidDocumentError]) -> list[tuple[int | None, str]]:
    return [(p.line, p.field) for p in exc.value.problems]


def test_market_tables_carry_the_columns_of_the_market_data_frames() -> None:
    assert tuple(QUOTES_SCHEMA.names) == QUOTE_COLUMNS
    assert tuple(TRADES_SCHEMA.names) == (*TRADE_COLUMNS, "trade_id")


def test_tardis_trades() -> None:
    table = tardis.parse("trades.csv", _lines("tardis-trades.csv"))["trades"]
    assert table.schema == TRADES_SCHEMA
    assert table.num_rows == 200
    # line 2: binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132
    assert table.slice(0, 1).to_pylist() == [
        {
            "ts": _ts("2020-02-22T00:00:02.418379Z"),
            "symbol": "BTC/USDT",
            "price": 9682.0,
            "qty": 0.132,
            "side": "buy",
            "exchange_ts": _ts("2020-02-22T00:00:02.111Z"),
            "trade_id": 42377944,
        }
    ]


def test_tardis_quotes() -> None:
    table = tardis.parse("quotes.csv", _lines("tardis-quotes.csv"))["quotes"]
    assert table.schema == QUOTES_SCHEMA
    assert table.num_rows == 150
    # line 3: binance-futures,BTCUSDT,1582329603401000,1582329603522418,0.84,9682,9681.83,0.003
    assert table.slice(1, 1).to_pylist() == [
        {
            "ts": _ts("2020-02-22T00:00:03.522418Z"),
            "symbol": "BTC/USDT",
            "bid": 9681.83,
            "ask": 9682.0,
            "bid_size": 0.003,
            "ask_size": 0.84,
        }
    ]


def test_binance_ws_capture_gives_trades_and_quotes_and_skips_the_rest() -> None:
    tables = binance_ws.parse("capture", _lines("binance-ws-spot-btcusdt.txt"))
    trades, quotes = tables["trades"], tables["quotes"]
    assert (trades.num_rows, quotes.num_rows) == (25, 89)  # 5 depth diffs and a snapshot skipped
    # 1723161254087896568 {"stream":"btcusdt@trade","data":{..."t":3735683259,
    #   "p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,...}}
    assert trades.slice(0, 1).to_pylist() == [
        {
            "ts": _ts("2024-08-08T23:54:14.087896568Z"),
            "symbol": "BTC/USDT",
            "price": 61837.63,
            "qty": 0.02,
            "side": "sell",  # the buyer was the maker: the aggressor sold
            "exchange_ts": _ts("2024-08-08T23:54:15.342Z"),
            "trade_id": 3735683259,
        }
    ]
    # 1723161254087891268 {"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT",
    #   "b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}
    assert quotes.slice(0, 1).to_pylist() == [
        {
            "ts": _ts("2024-08-08T23:54:14.087891268Z"),
            "symbol": "BTC/USDT",
            "bid": 61837.63,
            "ask": 61837.64,
            "bid_size": 3.78826,
            "ask_size": 1.54698,
        }
    ]


def test_ccxt_fills_with_fees_in_the_quote_currency() -> None:
    fills = ccxt.parse("fills.jsonl", _lines("ccxt-trades.jsonl"))["fills"]
    assert fills.schema == fills_schema(())
    assert fills.num_rows == 25
    first, second, third = fills.slice(0, 3).to_pylist()
    assert first["ts"] == _ts("2024-08-08T23:54:15.342Z")
    assert (first["symbol"], first["side"], first["liquidity"]) == ("BTC/USDT", "sell", "taker")
    assert (first["price"], first["quantity"], first["order_id"]) == (61837.63, 0.02, 28000000000)
    assert first["fee"] == 1.2367526  # paid in USDT
    assert second["fee"] == pytest.approx(0.000048 * 61837.63)  # 4.8e-05 BTC at the fill price
    assert math.isnan(third["fee"])  # 0.0001 BNB: not convertible here
    assert first["decision_price"] is None and first["arrival_time"] is None


def _with_line(name: str, number: int, change: str) -> list[str]:
    lines = _lines(name)
    lines[number - 1] = change
    return lines


TARDIS_GOOD = "binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132\n"


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (TARDIS_GOOD.replace(",0.132", ","), "amount", "expected a positive number, got nothing"),
        (TARDIS_GOOD.replace(",9682,", ",abc,"), "price", "expected a positive number, got 'abc'"),
        (TARDIS_GOOD.replace(",buy,", ",hold,"), "side", "expected buy, sell or unknown"),
        (TARDIS_GOOD.replace(",1582329602418379,", ",soon,"), "local_timestamp", "an integer"),
        (TARDIS_GOOD.replace("BTCUSDT", "BTCXYZ"), "symbol", "expected a symbol BASE/QUOTE"),
    ],
)
def test_tardis_bad_row_is_named_by_file_and_line(row: str, field: str, message: str) -> None:
    with pytest.raises(InvalidDocumentError) as exc:
        tardis.parse("trades.csv", _with_line("tardis-trades.csv", 7, row))
    problem = exc.value.problems[0]
    assert (problem.file, problem.line, problem.field) == ("trades.csv", 7, field)
    assert message in problem.message
    assert problem.render().startswith(f"trades.csv:7: {field}: ")


def test_tardis_row_with_too_many_fields_and_unknown_header() -> None:
    with pytest.raises(InvalidDocumentError) as exc:
        tardis.parse("t.csv", _with_line("tardis-trades.csv", 4, TARDIS_GOOD.strip() + ",1\n"))
    assert _problems(exc) == [(4, "")]
    assert "expected 8 comma-separated fields, got 9" in exc.value.problems[0].message
    with pytest.raises(InvalidDocumentError) as exc:
        tardis.parse("t.csv", ["time,price\n", "1,2\n"])
    assert _problems(exc) == [(1, "")]
    assert "header of tardis trades" in exc.value.problems[0].message


def test_every_bad_row_is_listed_sorted_by_line() -> None:
    lines = _lines("tardis-trades.csv")
    lines[9] = lines[9].replace(",buy,", ",long,").replace(",sell,", ",long,")
    lines[4] = lines[4].replace("BTCUSDT,", "BTCUSDT,x")
    with pytest.raises(InvalidDocumentError) as exc:
        tardis.parse("t.csv", lines)
    assert _problems(exc) == [(5, "timestamp"), (10, "side")]


def test_ccxt_bad_lines() -> None:
    lines = _lines("ccxt-trades.jsonl")
    trade = json.loads(lines[2])
    lines[1] = "{not json\n"
    lines[2] = json.dumps({**trade, "price": "n/a"}) + "\n"
    lines[3] = json.dumps({k: v for k, v in trade.items() if k != "side"}) + "\n"
    lines[4] = json.dumps({**trade, "side": "short", "takerOrMaker": "both"}) + "\n"
    lines[5] = json.dumps({**trade, "order": "XK-12"}) + "\n"
    lines[6] = "[1, 2]\n"
    with pytest.raises(InvalidDocumentError) as exc:
        ccxt.parse("fills.jsonl", lines)
    assert _problems(exc) == [
        (2, ""),
        (3, "price"),
        (4, "side"),
        (5, "side"),
        (5, "takerOrMaker"),
        (6, "order"),
        (7, ""),
    ]
    messages = [p.message for p in exc.value.problems]
    assert messages[0].startswith("not JSON")
    assert messages[2] == "expected buy or sell, got nothing (missing)"
    assert messages[6] == "expected a JSON object, got list"


def test_binance_ws_bad_lines() -> None:
    lines = _lines("binance-ws-spot-btcusdt.txt")
    trade = next(i for i, line in enumerate(lines) if "@trade" in line)
    quote = next(i for i, line in enumerate(lines) if "@bookTicker" in line)
    lines[trade] = lines[trade].replace('"m":true', '"m":"maybe"')
    lines[quote] = lines[quote].replace('"b":"61837.63000000"', '"b":"x"')
    lines[0] = "then " + lines[0].partition(" ")[2]
    with pytest.raises(InvalidDocumentError) as exc:
        binance_ws.parse("cap", lines)
    found = _problems(exc)
    assert (trade + 1, "m") in found and (quote + 1, "b") in found
    assert (1, "local_ns") not in found  # a depth diff: skipped before its stamp is read


@pytest.mark.parametrize(
    ("fmt", "name", "bad"),
    [
        (ImportFormat.CCXT, "ccxt-trades.jsonl", '{"timestamp": 1, "price": "abc"}\n'),
        (ImportFormat.TARDIS, "tardis-quotes.csv", "binance-futures,BTCUSDT,1,2,x,1,1,1\n"),
        (ImportFormat.BINANCE_WS, "binance-ws-spot-btcusdt.txt", "12 {]\n"),
    ],
)
def test_a_failed_import_leaves_no_folder(
    tmp_path: Path, fmt: ImportFormat, name: str, bad: str
) -> None:
    source = tmp_path / name
    source.write_text("".join(_with_line(name, 3, bad)), encoding="utf-8")
    with pytest.raises(InvalidDocumentError) as exc:
        import_file(fmt, source, tmp_path / "out" / "telemetry")
    assert exc.value.problems[0].line == 3
    assert exc.value.problems[0].file == str(source)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [name]


def test_a_write_that_fails_half_way_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = writer.ds.write_dataset
    written: list[str] = []

    def fail_on_the_second_table(data: Any, base_dir: Path, **options: Any) -> None:
        if written:
            raise OSError("disk full")
        written.append(str(base_dir))
        real(data, base_dir, **options)

    monkeypatch.setattr(writer.ds, "write_dataset", fail_on_the_second_table)
    with pytest.raises(OSError, match="disk full"):
        import_file(
            ImportFormat.BINANCE_WS, FIXTURES / "binance-ws-spot-btcusdt.txt", tmp_path / "run"
        )
    assert written  # the first table was written, then the import failed
    assert list(tmp_path.iterdir()) == []


def test_import_writes_day_partitions_and_facts(tmp_path: Path) -> None:
    source = tmp_path / "capture.gz"
    source.write_bytes(gzip.compress((FIXTURES / "binance-ws-spot-btcusdt.txt").read_bytes()))
    document = import_file(ImportFormat.BINANCE_WS, source, tmp_path / "run")
    assert document["format"] == "binance-ws" and len(document["sha256"]) == 64
    assert document["tables"]["trades"] == {
        "rows": 25,
        "start": "2024-08-08T23:54:14.087896568+00:00",
        "end": document["tables"]["trades"]["end"],
    }
    assert (tmp_path / "run" / "trades" / "date=2024-08-08" / "part-0.parquet").is_file()
    assert json.loads((tmp_path / "run" / "import.json").read_text()) == document
    with pytest.raises(InvalidDocumentError) as exc:
        import_file(ImportFormat.BINANCE_WS, source, tmp_path / "run")
    assert exc.value.problems[0].code == "import.exists"


@pytest.mark.parametrize(
    ("symbol", "unified"),
    [
        ("BTCUSDT", "BTC/USDT"),
        ("ethbtc", "ETH/BTC"),
        ("BTCFDUSD", "BTC/FDUSD"),
        ("BTC/USDT:USDT", "BTC/USDT:USDT"),
        ("USDT", None),
        ("BTCXYZ", None),
        ("/USDT", None),
    ],
)
def test_venue_symbols(symbol: str, unified: str | None) -> None:
    assert venue_symbol(symbol) == unified


# --- properties: what goes in comes out, and a broken value is found on its line -----------

prices = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)
micros = st.integers(min_value=0, max_value=4_102_444_800_000_000)  # up to 2100
trade_rows = st.lists(
    st.tuples(
        micros, micros, st.integers(0, 2**62), st.sampled_from(["buy", "sell"]), prices, prices
    ),
    min_size=1,
    max_size=30,
)


def _tardis_csv(rows: list[tuple[int, int, int, str, float, float]]) -> list[str]:
    header = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
    body = [f"binance,ETHUSDT,{t},{lt},{i},{s},{p!r},{a!r}\n" for t, lt, i, s, p, a in rows]
    return [header, *body]


@settings(max_examples=60, deadline=None)
@given(trade_rows)
def test_tardis_trades_round_trip(rows: list[tuple[int, int, int, str, float, float]]) -> None:
    table = tardis.parse("t.csv", _tardis_csv(rows))["trades"].to_pandas()
    expected = pd.DataFrame(
        rows, columns=["exchange_us", "ts_us", "trade_id", "side", "price", "qty"]
    )
    expected = expected.sort_values("ts_us", kind="stable").reset_index(drop=True)
    assert (table["ts"].astype("int64") == expected["ts_us"] * 1000).all()
    assert (table["exchange_ts"].astype("int64") == expected["exchange_us"] * 1000).all()
    assert table["trade_id"].tolist() == expected["trade_id"].tolist()
    assert table["price"].tolist() == expected["price"].tolist()
    assert table["qty"].tolist() == expected["qty"].tolist()
    assert table["side"].tolist() == expected["side"].tolist()
    assert set(table["symbol"]) == {"ETH/USDT"}


@settings(max_examples=60, deadline=None)
@given(trade_rows, st.data())
def test_a_broken_value_is_reported_on_its_line(
    rows: list[tuple[int, int, int, str, float, float]], data: st.DataObject
) -> None:
    lines = _tardis_csv(rows)
    broken = data.draw(st.integers(1, len(rows)))
    column = data.draw(st.sampled_from([2, 3, 5, 6, 7]))
    value = data.draw(st.sampled_from(["", "x", "-1", "1e", "nan"]))
    fields = lines[broken].rstrip("\n").split(",")
    fields[column] = value
    lines[broken] = ",".join(fields) + "\n"
    if column in (2, 3) and value == "-1":
        return  # a negative time is an integer: before 1970, but well formed
    with pytest.raises(InvalidDocumentError) as exc:
        tardis.parse("t.csv", lines)
    assert [p.line for p in exc.value.problems] == [broken + 1]


ccxt_trades = st.lists(
    st.fixed_dictionaries(
        {
            "timestamp": st.integers(0, 4_102_444_800_000),
            "symbol": st.sampled_from(["BTC/USDT", "ETH/BTC", "BTC/USDT:USDT"]),
            "side": st.sampled_from(["buy", "sell"]),
            "price": prices,
            "amount": prices,
            "order": st.one_of(st.none(), st.integers(0, 2**62).map(str)),
            "takerOrMaker": st.one_of(st.none(), st.sampled_from(["taker", "maker"])),
            "fee": st.one_of(
                st.none(), st.fixed_dictionaries({"cost": prices, "currency": st.just("USDT")})
            ),
        }
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(ccxt_trades)
def test_ccxt_round_trip(trades: list[dict[str, Any]]) -> None:
    fills = ccxt.parse("f.jsonl", [json.dumps(t) + "\n" for t in trades])["fills"].to_pylist()
    ordered = sorted(trades, key=lambda t: int(t["timestamp"]))
    assert [f["quantity"] for f in fills] == [t["amount"] for t in ordered]
    assert [f["order_id"] for f in fills] == [
        None if t["order"] is None else int(t["order"]) for t in ordered
    ]
    assert [f["liquidity"] for f in fills] == [t["takerOrMaker"] for t in ordered]
    for fill, trade in zip(fills, ordered, strict=True):
        fee = trade["fee"]
        quote_fee = isinstance(fee, dict) and trade["symbol"] in ("BTC/USDT", "BTC/USDT:USDT")
        assert fill["fee"] == fee["cost"] if quote_fee else math.isnan(fill["fee"])


def test_every_format_has_a_parser() -> None:
    assert set(PARSERS) == set(ImportFormat)
