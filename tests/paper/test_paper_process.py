"""The paper process: graceful stop, telemetry flushed and readable, a real SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from stratops.paper.clock import ManualClock
from stratops.paper.config import EngineConfig
from stratops.paper.engine import Pacing
from stratops.paper.market import Market
from stratops.paper.process import RunIdentity, RunStatus, run_paper_process
from stratops.paper.strategy import PyfuncStrategy
from stratops.telemetry import reader
from stratops.telemetry.schema import SCHEMAS

DAY_NS = 86_400 * 1_000_000_000


class StoppingClock(ManualClock):
    """A manual clock whose operator sends a stop after ``after`` sleeps."""

    def __init__(self, stop: threading.Event, after: int) -> None:
        super().__init__()
        self._stop, self._after = stop, after

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        if len(self.sleeps) == self._after:
            self._stop.set()
        return super().sleep(seconds, stop)


def _read_all(folder: Path) -> dict[str, int]:
    return {name: reader.read(folder, name).num_rows for name in (*SCHEMAS, "fills")}


def test_stop_flushes_telemetry_and_reports_stopped(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    strategy = PyfuncStrategy.load(str(trend_model))
    stop = threading.Event()
    outcome = run_paper_process(
        strategy=strategy,
        identity=RunIdentity(str(trend_model), {"name": strategy.info.name}),
        market=btc_minute,
        config=EngineConfig(allocation=100_000),
        telemetry=tmp_path / "run",
        pacing=Pacing(speed=3600.0, poll_seconds=1.0, flush_seconds=3.0),
        clock=StoppingClock(stop, after=12),
        stop=stop,
    )
    assert outcome.status is RunStatus.STOPPED
    assert 0 < outcome.bars_done < outcome.bars_total
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "stopped"
    assert run["bars_done"] == outcome.bars_done == 1 + 12 * 60
    rows = _read_all(tmp_path / "run")
    assert rows["positions"] == rows["pnl"] == outcome.bars_done


def test_sigterm_stops_a_paper_process_gracefully(tmp_path: Path, trend_model: Path) -> None:
    telemetry = tmp_path / "deployment"
    script = (
        "import typer\n"
        "from stratops.cli import paper\n"
        "app = typer.Typer()\n"
        "paper.register(app)\n"
        "@app.callback()\n"
        "def root() -> None: ...\n"
        "app()\n"
    )
    command = [
        sys.executable, "-c", script, "paper", "run",
        "--model-uri", str(trend_model), "--allocation", "50000",
        "--telemetry", str(telemetry), "--data", "binance-1m", "--speed", "600",
        "--poll-seconds", "0.05", "--flush-seconds", "0.2", "--output", "json",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (telemetry / "run.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (telemetry / "run.json").exists(), process.stderr.read() if process.stderr else ""
        os.kill(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["status"] == "stopped"
    run = json.loads((telemetry / "run.json").read_text())
    assert run["status"] == "stopped" and run["mode"] == "paper"
    assert 0 < run["bars_done"] < run["bars_total"]
    assert _read_all(telemetry)["positions"] == run["bars_done"]  # one symbol: BTC/USDT


def test_the_paper_venue_statement_reconciles_with_the_ledger(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    from stratops.model.reconciliation import ReconciliationPolicySpec
    from stratops.ops.reconciliation.compare import reconcile
    from stratops.ops.reconciliation.ledger import read_ledger
    from stratops.ops.reconciliation.statement import VENUE_DIR, read_statement

    strategy = PyfuncStrategy.load(str(trend_model))
    stop = threading.Event()
    run_paper_process(
        strategy=strategy,
        identity=RunIdentity(str(trend_model), {"name": strategy.info.name}),
        market=btc_minute,
        config=EngineConfig(allocation=100_000),
        telemetry=tmp_path / "run",
        pacing=Pacing(speed=3600.0, poll_seconds=1.0, flush_seconds=3.0),
        clock=StoppingClock(stop, after=12),
        stop=stop,
    )
    ledger = read_ledger(tmp_path / "run")
    venue, _ = read_statement(tmp_path / "run" / VENUE_DIR)
    assert len(venue.fills) == len(ledger.fills) > 0
    breaks = reconcile(ledger, venue, ReconciliationPolicySpec(), 0)
    assert breaks["class"].tolist() == []
