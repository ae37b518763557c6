"""``stratops regimes show``: the heat table, the same profile as data, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stratops.cli.main import app

runner = CliRunner()


def test_heat_table() -> None:
    result = runner.invoke(app, ["regimes", "show", "--symbol", "BTC/USDT"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "BTC/USDT volume / median by hour of week (UTC)" in lines[0]
    assert sum(1 for line in lines if line.startswith(("│ Mon", "│ Sun"))) == 2
    assert "profile digest" in result.output and "18 thin" in result.output


def test_json_is_the_profile() -> None:
    result = runner.invoke(app, ["regimes", "show", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["ratios"]) == 7 and all(len(row) == 24 for row in data["ratios"])
    assert data["regimes"][1][14] == "peak" and data["regimes"][6][6] == "thin"
    assert data["profile"]["format"] == "stratops.hour-of-week-profile/v1"
    assert len(data["digest"]) == 64
    again = runner.invoke(app, ["regimes", "show", "-o", "json"])
    assert again.output == result.output  # same inputs, same bytes


def test_bad_input_exits_2(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["regimes", "show", "--symbol", "XRP/USDT"])
    assert unknown.exit_code == 2 and "has no XRP/USDT" in unknown.output
    missing = runner.invoke(app, ["regimes", "show", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2 and "missing" in missing.output
    rules = runner.invoke(app, ["regimes", "show", "--thin", "2"])
    assert rules.exit_code == 2 and "thin_below" in rules.output
