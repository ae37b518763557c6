"""The venue statement reader: ccxt structures in, the venue's book out, bad lines named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratops.model.problems import InvalidDocumentError
from stratops.ops.reconciliation.statement import read_statement

TRADE = {"id": "1", "order": "9", "clientOrderId": "1001", "timestamp": 1723161253000,
         "symbol": "BTC/USDT:USDT", "side": "buy", "price": 60000.0, "amount": 0.01,
         "fee": {"cost": 0.24, "currency": "USDT"}}  # fmt: skip


def _folder(tmp_path: Path, **files: list[dict[str, Any]]) -> Path:
    folder = tmp_path / "statement"
    folder.mkdir(exist_ok=True)
    (folder / "trades.jsonl").write_text(json.dumps(TRADE) + "\n", encoding="utf-8")
    for name, items in files.items():
        text = "".join(json.dumps(item) + "\n" for item in items)
        (folder / f"{name}.jsonl").write_text(text, encoding="utf-8")
    return folder


def _problems(folder: Path) -> list[tuple[str, int | None, str, str]]:
    with pytest.raises(InvalidDocumentError) as caught:
        read_statement(folder)
    return [(Path(p.file).name, p.line, p.field, p.message) for p in caught.value.problems]


def test_positions_are_in_base_units_and_funding_is_the_ledgers_cost(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        positions=[
            {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 2, "contractSize": 0.001},
            {"symbol": "BTC/USDT:USDT", "side": "short", "contracts": 3, "contractSize": 0.01},
            {"symbol": "ETH/USDT:USDT", "side": "long", "contracts": 1.5},
        ],
        funding=[
            {"symbol": "BTC/USDT:USDT", "amount": -1.5, "timestamp": 1723190400000},
            {"symbol": "BTC/USDT:USDT", "amount": 0.25, "timestamp": 1723219200000},
        ],
    )
    book, as_of = read_statement(folder)
    assert as_of is None and book.balances is None
    assert book.positions is not None and book.funding is not None
    assert book.positions.to_dict() == pytest.approx({"BTC/USDT:USDT": -0.03, "ETH/USDT:USDT": 1.5})
    assert book.funding.to_dict() == pytest.approx({"BTC/USDT:USDT": 1.25})  # paid 1.25 net


def test_a_bad_position_or_funding_line_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        positions=[
            {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1},
            {"symbol": "BTC/USDT:USDT", "side": "flat", "contracts": 0},
            {"symbol": "BTC/USDT:USDT", "side": "short", "contracts": 1, "contractSize": -1},
        ],
    )
    problems = _problems(folder)
    assert [(name, line, field) for name, line, field, _ in problems] == [
        ("positions.jsonl", 2, "side"), ("positions.jsonl", 3, "contractSize")
    ]  # fmt: skip
    assert "long or short" in problems[0][3] and "positive number" in problems[1][3]
    (folder / "positions.jsonl").unlink()
    _folder(tmp_path, funding=[{"symbol": "BTC/USDT:USDT", "amount": "a lot", "timestamp": 1}])
    [(name, line, field, message)] = _problems(folder)
    assert (name, line, field) == ("funding.jsonl", 1, "amount") and "number" in message


def test_a_folder_without_trades_is_no_statement(tmp_path: Path) -> None:
    [(name, line, field, message)] = _problems(tmp_path)
    assert (name, line, field) == (tmp_path.name, None, "")
    assert "no venue statement: expected trades.jsonl" in message


POSITION = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]),
        "side": st.sampled_from(["long", "short"]),
        "contracts": st.floats(0, 1e6, allow_nan=False),
    },
    optional={"contractSize": st.sampled_from([0.001, 0.01, 1.0, 100.0])},
)


@given(st.lists(POSITION, min_size=1, max_size=12))
def test_the_last_line_of_a_symbol_is_its_position(
    tmp_path_factory: pytest.TempPathFactory, positions: list[dict[str, Any]]
) -> None:
    folder = _folder(tmp_path_factory.mktemp("p"), positions=positions)
    book, _ = read_statement(folder)
    expected = {}
    for p in positions:
        sign = 1 if p["side"] == "long" else -1
        expected[p["symbol"]] = sign * p["contracts"] * p.get("contractSize", 1.0)
    assert book.positions is not None
    assert book.positions.to_dict() == pytest.approx(expected)
