"""A paper deployment runs continuously: appends telemetry, resumes its checkpoint, halts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.model.strategy import HaltBehaviour
from stratops.ops.reconciliation.compare import reconcile
from stratops.ops.reconciliation.ledger import read_ledger
from stratops.ops.reconciliation.statement import read_statement
from stratops.paper.clock import ManualClock
from stratops.paper.config import EngineConfig
from stratops.paper.control import CONTROL_FILE, HaltCommand, read_status, write_command
from stratops.paper.datasets import load_dataset
from stratops.paper.engine import Pacing, run_backtest
from stratops.paper.market import Market
from stratops.paper.process import RunIdentity, run_paper_process
from stratops.paper.strategy import PyfuncStrategy
from stratops.paper.telemetry import write_telemetry
from stratops.telemetry import reader
from stratops.telemetry.schema import SCHEMAS

DAY_NS = 86_400 * 1_000_000_000
TABLES = (*SCHEMAS, "fills")
PACING = Pacing(speed=3600.0, poll_seconds=1.0, flush_seconds=2.0)


class OperatorClock(ManualClock):
    """A manual clock that runs ``act(sleeps)`` before each sleep (stop, write a command)."""

    def __init__(self, act: object) -> None:
        super().__init__()
        self._act = act

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        assert callable(self._act)
        self._act(len(self.sleeps))
        return super().sleep(seconds, stop)


def _run(
    model: Path, market: Market, folder: Path, act: object, allocation: float = 100_000
) -> None:
    strategy = PyfuncStrategy.load(str(model))
    stop = threading.Event()

    def operator(sleeps: int) -> None:
        assert callable(act)
        act(sleeps, stop)

    run_paper_process(
        strategy=strategy,
        identity=RunIdentity(str(model), {"name": strategy.info.name}),
        market=market,
        config=EngineConfig(allocation=allocation),
        telemetry=folder,
        pacing=PACING,
        clock=OperatorClock(operator),
        stop=stop,
    )


def _ns(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value)


def _tables(folder: Path) -> dict[str, pa.Table]:
    return {name: reader.read(folder, name) for name in TABLES}


def _parts(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_mtime_ns) for p in folder.rglob("part-*.parquet"))


def _venue_reports(folder: Path, fills: pa.Table) -> None:
    """The paper venue's statement reports each fill once, in order, as the simulator made it,
    and the ledger of ``folder`` reconciles with it without a break."""
    lines = (folder / "venue" / "trades.jsonl").read_text(encoding="utf-8").splitlines()
    trades = [json.loads(line) for line in lines]
    expected = fills.to_pandas()
    assert [t["id"] for t in trades] == [str(n) for n in range(len(expected))]
    assert [int(t["clientOrderId"]) for t in trades] == expected["order_id"].tolist()
    assert [t["timestamp"] for t in trades] == (expected["ts"].astype("int64") // 10**6).tolist()
    assert [t["side"] for t in trades] == expected["side"].tolist()
    assert [t["price"] for t in trades] == expected["price"].tolist()
    assert [t["amount"] for t in trades] == expected["quantity"].tolist()
    assert [t["fee"]["cost"] for t in trades] == expected["fee"].tolist()
    positions = (folder / "venue" / "positions.jsonl").read_text(encoding="utf-8").splitlines()
    last = json.loads(positions[-1])
    held = json.loads((folder / "run.json").read_text())["positions"][last["symbol"]]
    assert (-1 if last["side"] == "short" else 1) * last["contracts"] == held
    venue, _ = read_statement(folder / "venue")
    found = reconcile(read_ledger(folder), venue, ReconciliationPolicySpec(), 2**62)
    assert found.empty, found.to_dict("records")


def _stop_after(count: int) -> object:
    def act(sleeps: int, stop: threading.Event) -> None:
        if sleeps >= count:
            stop.set()

    return act


def test_stopped_and_resumed_deployment_equals_one_backtest(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    market = btc_minute.between(None, int(btc_minute.ts[0]) + DAY_NS)
    folder = tmp_path / "run"
    _run(trend_model, market, folder, _stop_after(7))  # stops mid-replay
    first = json.loads((folder / "run.json").read_text())
    assert first["status"] == "stopped" and 0 < first["bars_done"] < market.bars
    parts = sorted(p.name for p in (folder / "positions").rglob("part-*.parquet"))
    with (folder / "venue" / "trades.jsonl").open("a") as stray:  # appended, never counted:
        stray.write('{"id": "999", "symbol": "BTC/USDT"')  # what a process dying leaves
    _run(trend_model, market, folder, _stop_after(40))  # resumes, catches up, idles, stops
    assert (
        sorted(p.name for p in (folder / "positions").rglob("part-*.parquet"))[: len(parts)]
        == parts
    )
    run = json.loads((folder / "run.json").read_text())
    assert run["bars_done"] == market.bars
    strategy = PyfuncStrategy.load(str(trend_model))
    once_session = run_backtest(market, strategy, EngineConfig(allocation=100_000))
    write_telemetry(tmp_path / "once", once_session.tables(), {"status": "completed"})
    once, resumed = _tables(tmp_path / "once"), _tables(folder)
    assert once["fills"].num_rows > 10
    for name in TABLES:
        assert resumed[name].equals(once[name]), name
    _venue_reports(folder, once["fills"])


def test_a_reallocated_deployment_resumes_its_run_with_the_new_capital(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    """A canary's ramp step (or any reallocation) restarts the process with another
    allocation: the run carries on from its checkpoint, its history kept, and the targets
    from then on are sized on the new capital."""
    market = btc_minute.between(None, int(btc_minute.ts[0]) + DAY_NS)
    folder = tmp_path / "run"
    _run(trend_model, market, folder, _stop_after(7))
    before = json.loads((folder / "run.json").read_text())
    parts = _parts(folder)
    _run(trend_model, market, folder, _stop_after(40), allocation=200_000)
    after = json.loads((folder / "run.json").read_text())
    assert after["bars_done"] == market.bars > before["bars_done"]
    assert _parts(folder)[: len(parts)] == parts  # history never rewritten
    positions = reader.read(folder, "positions").to_pandas()
    sized = positions[positions["target_fraction"] != 0]
    capital = (sized["target_quantity"] * sized["mark_price"] / sized["target_fraction"]).abs()
    resumed_at = pd.Timestamp(before["seen_until"])
    assert capital[sized["ts"] <= resumed_at].median() == pytest.approx(100_000, rel=0.01)
    assert capital[sized["ts"] > resumed_at].median() == pytest.approx(200_000, rel=0.01)


def test_caught_up_deployment_idles_and_reports_it(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    market = btc_minute.between(None, int(btc_minute.ts[120]))
    seen: list[str] = []

    def act(sleeps: int, stop: threading.Event) -> None:
        status = read_status(tmp_path / "run")
        seen.append(status.status if status else "")
        if sleeps >= 5:
            stop.set()

    _run(trend_model, market, tmp_path / "run", act)
    assert seen[-1] == "caught_up"  # idle, still waking up, until stopped
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "stopped"


def _halt_run(tmp_path: Path, model: Path, market: Market, mode: HaltBehaviour) -> Path:
    folder = tmp_path / mode.value

    def act(sleeps: int, stop: threading.Event) -> None:
        if sleeps == 6:
            write_command(folder / CONTROL_FILE, HaltCommand(mode=mode, id="h1", by="oncall"))
        if sleeps >= 20:
            stop.set()

    _run(model, market, folder, act)
    return folder


def _after_halt(folder: Path) -> tuple[float, dict[str, pa.Table]]:
    tables = _tables(folder)
    events = tables["events"].to_pandas()
    (halt,) = events[events["kind"] == "halt"].itertuples()
    return halt.ts, tables


def test_flatten_closes_the_position_through_the_simulator(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    folder = _halt_run(tmp_path, trend_model, btc_minute, HaltBehaviour.FLATTEN)
    at, tables = _after_halt(folder)
    positions = tables["positions"].to_pandas()
    before = positions[positions["ts"] <= at]["position"].iloc[-1]
    assert before != 0
    after = positions[positions["ts"] > at]
    assert after["position"].iloc[-1] == 0.0
    fills = tables["fills"].to_pandas()
    closing = fills[fills["ts"] > at]
    assert len(closing) >= 1 and (closing["fee"] > 0).all()
    assert set(closing["side"]) == {"sell" if before > 0 else "buy"}
    status = read_status(folder)
    assert status is not None and status.halt is not None
    assert (status.halt.mode, status.halt.command) == (HaltBehaviour.FLATTEN, "h1")
    assert status.positions == {"BTC/USDT": 0.0}


def test_hold_sends_no_order_and_keeps_the_position(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    folder = _halt_run(tmp_path, trend_model, btc_minute, HaltBehaviour.HOLD)
    at, tables = _after_halt(folder)
    orders = tables["orders"].to_pandas()
    assert (orders["ts"] > at).sum() == 0
    positions = tables["positions"].to_pandas()
    assert positions[positions["ts"] > at]["position"].nunique() == 1


def test_reduce_only_never_grows_the_position(
    tmp_path: Path, trend_model: Path, btc_minute: Market
) -> None:
    folder = _halt_run(tmp_path, trend_model, btc_minute, HaltBehaviour.REDUCE_ONLY)
    at, tables = _after_halt(folder)
    orders = tables["orders"].to_pandas()
    after = orders[orders["ts"] > at]
    grows = after["target_quantity"].abs() > after["position_before"].abs() + 1e-12
    assert not grows.any()
    positions = tables["positions"].to_pandas()
    held = positions[positions["ts"] > at]["position"].abs().to_numpy()
    assert (held[1:] <= held[:-1]).all()


def _paper_process(model: Path, folder: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "stratops", "paper", "run", "--model-uri", str(model),
        "--allocation", "100000", "--telemetry", str(folder), "--data", "binance-1m",
        "--start", "2024-08-05", "--end", "2024-08-06", "--speed", "40000",
        "--poll-seconds", "0.05", "--flush-seconds", "0.2", "--wake-seconds", "0.05",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait(folder: Path, done: object, process: subprocess.Popen[str]) -> None:
    assert callable(done)
    deadline = time.monotonic() + 60
    while not done(read_status(folder)):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigkilled_and_restarted_process_equals_one_backtest(
    tmp_path: Path, trend_model: Path
) -> None:
    folder = tmp_path / "run"
    first = _paper_process(trend_model, folder)
    try:
        _wait(folder, lambda s: s is not None and s.bars_done > 200, first)
        os.kill(first.pid, signal.SIGKILL)  # no flush, no checkpoint: maybe stray parts
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    status = read_status(folder)
    assert status is not None and status.bars_done < status.bars_total
    second = _paper_process(trend_model, folder)
    try:
        _wait(folder, lambda s: s is not None and s.status == "caught_up", second)
        os.kill(second.pid, signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        if second.poll() is None:
            second.kill()
    strategy = PyfuncStrategy.load(str(trend_model))
    market = load_dataset("binance-1m").select(list(strategy.info.symbols))
    day = market.between(_ns("2024-08-05"), _ns("2024-08-06"))
    once_session = run_backtest(day, strategy, EngineConfig(allocation=100_000))
    write_telemetry(tmp_path / "once", once_session.tables(), {"status": "completed"})
    once, resumed = _tables(tmp_path / "once"), _tables(folder)
    assert once["fills"].num_rows > 10
    for name in TABLES:
        assert resumed[name].equals(once[name]), name
    _venue_reports(folder, once["fills"])  # the killed process's lines are not repeated
