"""A real strategy life for the report tests: backtest, registration, then a paper run.

Made once per session: the trend follower is backtested on the first three days of the shipped
BTC/USDT minute data (its evidence and model registered as version 1 in an embedded MLflow),
then paper-traded by the paper engine on the two days after, on a manual clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.model.base import StrategyType
from stratops.paper.clock import ManualClock
from stratops.paper.config import EngineConfig
from stratops.paper.datasets import load_dataset
from stratops.paper.engine import Pacing
from stratops.paper.process import RunIdentity, run_paper_process
from stratops.paper.strategy import PyfuncStrategy
from stratops.registry import Registry, RegistryLocation
from stratops.registry.location import embedded_location
from stratops.report import sources
from stratops.report.build import Subject, build_report
from stratops.report.model import Report
from stratops.telemetry.reader import Window

STRATEGY = "btc-trend"
ALLOCATION = 1_000_000.0
DAY_NS = 86_400 * 1_000_000_000
BACKTEST_END = "2024-07-29T14:16Z"  # three days after the data's first bar


class CaughtUpClock(ManualClock):
    """A manual clock that stops the deployment once it has idled caught up for a while."""

    def __init__(self, stop: threading.Event, after: int = 10) -> None:
        super().__init__()
        self._stop, self._after = stop, after

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        if len(self.sleeps) >= self._after:
            self._stop.set()
        return super().sleep(seconds, stop)


@dataclass(frozen=True)
class Life:
    registry: Registry
    location: RegistryLocation
    version: int
    run: Path


@pytest.fixture(scope="session")
def life(tmp_path_factory: pytest.TempPathFactory) -> Life:
    root = tmp_path_factory.mktemp("report-life")
    backtest = CliRunner().invoke(
        app,
        [
            "backtest", "--strategy", "trend", "--data", "binance-1m", "--param", "fast=10",
            "--param", "slow=60", "--allocation", str(ALLOCATION), "--end", BACKTEST_END,
            "--evidence-out", str(root / "evidence"), "--model-out", str(root / "model"),
            "-o", "json",
        ],
    )  # fmt: skip
    assert backtest.exit_code == 0, backtest.output
    location = embedded_location(root / "desk")
    registry = Registry(location)
    registration = registry.register(
        STRATEGY,
        strategy_type=StrategyType.TREND,
        evidence=root / "evidence",
        model_path=root / "model",
    )
    strategy = PyfuncStrategy.load(str(root / "model"))
    market = load_dataset("binance-1m").select(list(strategy.info.symbols))
    start = int(market.ts[0]) + 3 * DAY_NS
    stop = threading.Event()  # a deployment idles once caught up: stopped by its clock
    outcome = run_paper_process(
        strategy=strategy,
        identity=RunIdentity(str(root / "model"), {"name": STRATEGY}),
        market=market.between(start, start + 2 * DAY_NS),
        config=EngineConfig(allocation=ALLOCATION, seed=5),
        telemetry=root / "paper",
        pacing=Pacing(speed=86_400.0, poll_seconds=1.0, flush_seconds=1e9),
        clock=CaughtUpClock(stop),
        stop=stop,
    )
    assert outcome.bars_done == outcome.bars_total
    return Life(registry, location, registration.version.version, root / "paper")


def build(life: Life) -> Report:
    """The report of the paper run, from the real telemetry, registry and market data."""
    documents = sources.run_documents(life.run)
    return build_report(
        Subject(STRATEGY, "paper", life.version),
        sources.read_telemetry(life.run, Window(), sources.allocation_of(life.run, documents)),
        backtest=sources.backtest_of(life.registry, STRATEGY, life.version),
        profile=sources.profile_of(documents, None),
    )


@pytest.fixture(scope="session")
def report(life: Life) -> Report:
    return build(life)
