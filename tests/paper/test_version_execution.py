"""A version's execution parameters reach the engine and ``paper run``: its fills cost more."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from stratops.cli import paper
from stratops.model.execution import ExecutionSettings
from stratops.paper.config import EngineConfig, ExecutionConfig
from stratops.paper.control import read_status
from stratops.paper.engine import run_backtest
from stratops.paper.execution import BarRecords
from stratops.paper.market import Market
from stratops.paper.strategies import strategy_spec
from stratops.telemetry import reader

COSTLY = ExecutionSettings(taker_fee_bps=10.0, impact_coefficient=3.0)


def _records(market: Market, execution: ExecutionConfig) -> BarRecords:
    strategy = strategy_spec("trend").build({"fast": 10, "slow": 60, "allow_short": True})
    session = run_backtest(market, strategy, EngineConfig(allocation=50_000, execution=execution))
    (records,), _ = session.take()
    return records


def test_the_same_orders_pay_the_version_s_fees_and_impact(btc_minute: Market) -> None:
    default, costly = ExecutionConfig(), ExecutionConfig().with_settings(COSTLY)
    cheap, dear = _records(btc_minute, default), _records(btc_minute, costly)
    traded = cheap.filled != 0
    assert traded.sum() > 50
    # the same decisions and participation: the same quantities at the same arrival prices
    np.testing.assert_array_equal(cheap.filled, dear.filled)
    np.testing.assert_array_equal(cheap.arrival_price, dear.arrival_price)
    np.testing.assert_array_equal(cheap.half_spread, dear.half_spread)
    for records, config in ((cheap, default), (dear, costly)):
        notional = np.abs(records.filled) * records.fill_price
        np.testing.assert_allclose(records.fee, notional * config.taker_fee_bps / 1e4)
    # square-root impact is linear in its coefficient: 3 instead of 0.9
    np.testing.assert_allclose(dear.impact, cheap.impact * 3.0 / 0.9, rtol=1e-12)
    assert (dear.impact[traded] > cheap.impact[traded]).all()
    assert dear.net.sum() < cheap.net.sum()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer(pretty_exceptions_show_locals=False)
    paper.register(application)
    return application


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"takerFeeBps": -1}', "takerFeeBps"),
        ('{"takerFee": 10}', "takerFee"),
        ("takerFeeBps=10", "--execution"),
    ],
)
def test_paper_run_refuses_bad_execution_parameters(
    app: typer.Typer, tmp_path: Path, trend_model: Path, value: str, message: str
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "paper", "run", "--model-uri", str(trend_model), "--allocation", "1000",
            "--telemetry", str(tmp_path / "run"), "--execution", value,
        ],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "[config.execution]" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_paper_process_runs_with_the_execution_it_is_given(
    tmp_path: Path, trend_model: Path
) -> None:
    telemetry = tmp_path / "run"
    command = [
        sys.executable, "-m", "stratops", "paper", "run", "--model-uri", str(trend_model),
        "--allocation", "50000", "--telemetry", str(telemetry), "--data", "binance-1m",
        "--start", "2024-08-05", "--end", "2024-08-06", "--speed", "max",
        "--wake-seconds", "0.05", "--execution", COSTLY.to_json(),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while (status := read_status(telemetry)) is None or status.status != "caught_up":
            assert process.poll() is None and time.monotonic() < deadline, "not caught up"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    run = json.loads((telemetry / "run.json").read_text(encoding="utf-8"))
    assert run["config"]["execution"]["taker_fee_bps"] == 10.0
    assert run["config"]["execution"]["impact_coefficient"] == 3.0
    assert run["config"]["execution"]["participation"] == ExecutionConfig().participation
    fills = reader.read(telemetry, "fills").to_pandas()
    assert len(fills) > 0
    np.testing.assert_allclose(fills["fee"], fills["quantity"] * fills["price"] * 10.0 / 1e4)
