"""``stratops analytics import``: exit codes, -o json|yaml, problems on stderr by file:line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner, Result

from stratops.cli.main import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telemetry"


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["analytics", "import", *(str(a) for a in args)])


def test_import_prints_what_it_wrote(tmp_path: Path) -> None:
    source = FIXTURES / "tardis-trades.csv"
    result = _run("--format", "tardis", source, "--out", tmp_path / "t", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["out"] == str(tmp_path / "t") and data["format"] == "tardis"
    assert data["tables"]["trades"]["rows"] == 200
    as_yaml = _run("-f", "binance-ws", FIXTURES / "binance-ws-spot-btcusdt.txt",
                   "--out", tmp_path / "b", "-o", "yaml")  # fmt: skip
    assert as_yaml.exit_code == 0, as_yaml.output
    tables = yaml.safe_load(as_yaml.stdout)["tables"]
    assert (tables["trades"]["rows"], tables["quotes"]["rows"]) == (25, 89)
    table = _run("--format", "ccxt", FIXTURES / "ccxt-trades.jsonl", "--out", tmp_path / "c")
    assert table.exit_code == 0 and "fills" in table.stdout and "25" in table.stdout


def test_bad_row_exits_2_naming_the_line_and_writes_nothing(tmp_path: Path) -> None:
    lines = (FIXTURES / "tardis-quotes.csv").read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace("BTCUSDT,", "BTCUSDT,x", 1)
    source = tmp_path / "quotes.csv"
    source.write_text("".join(lines))
    result = _run("--format", "tardis", source, "--out", tmp_path / "out", "-o", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{source}:4: timestamp: expected an integer, got 'x1582329603" in result.stderr
    assert "nothing imported" in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_file_and_existing_out_exit_2(tmp_path: Path) -> None:
    missing = _run("--format", "ccxt", tmp_path / "none.jsonl", "--out", tmp_path / "o")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    (tmp_path / "o").mkdir()
    exists = _run("--format", "ccxt", FIXTURES / "ccxt-trades.jsonl", "--out", tmp_path / "o")
    assert exists.exit_code == 2 and "already exists" in exists.stderr
    assert list((tmp_path / "o").iterdir()) == []
