"""The engine: determinism, backtest/paper parity, risk events, sweeps."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.pyfunc.model import PythonModel

from stratops.paper.clock import ManualClock
from stratops.paper.config import EngineConfig
from stratops.paper.engine import Pacing, Session, run_backtest, run_paper
from stratops.paper.errors import StrategyError
from stratops.paper.market import Market
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategy import PyfuncStrategy
from stratops.paper.sweep import run_sweep, trials_frame
from stratops.paper.telemetry import write_telemetry

DAY_NS = 86_400 * 1_000_000_000


def _write(session: Session, folder: Path) -> dict[str, bytes]:
    write_telemetry(folder, session.tables(), {"run": "test"})
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


def test_same_seed_gives_identical_parquet_bytes(tmp_path: Path, btc_minute: Market) -> None:
    strategy = strategy_spec("trend").build({"fast": 10, "slow": 60, "allow_short": True})
    config = EngineConfig(allocation=250_000, seed=7)
    first = _write(run_backtest(btc_minute, strategy, config), tmp_path / "a")
    second = _write(run_backtest(btc_minute, strategy, config), tmp_path / "b")
    assert first == second
    assert len(first) == 6
    other = run_backtest(btc_minute, strategy, EngineConfig(allocation=250_000, seed=8))
    latency = other.tables()["latency"].column("tick_to_order_ms").to_numpy()
    same = pq.read_table(tmp_path / "a" / "latency.parquet").column("tick_to_order_ms").to_numpy()
    assert len(latency) == len(same) and not np.array_equal(latency, same)


def _paper(
    market: Market, strategy: Any, config: EngineConfig, speed: float
) -> tuple[Session, ManualClock, int]:
    session = Session(market, strategy, config)
    clock = ManualClock()
    flushes = []
    done = run_paper(
        session, clock, Pacing(speed=speed, poll_seconds=1.0, flush_seconds=4.0),
        threading.Event(), flushes.append,
    )  # fmt: skip
    assert done
    return session, clock, len(flushes)


@pytest.mark.parametrize("model", ["trend_model", "meanrev_model"])
def test_backtest_and_paper_give_identical_fills(
    request: pytest.FixtureRequest, minute_market: Market, model: str
) -> None:
    strategy = PyfuncStrategy.load(str(request.getfixturevalue(model)))
    market = minute_market.select(list(strategy.info.symbols))
    window = market.between(int(market.ts[0]) + 2 * DAY_NS, int(market.ts[0]) + 3 * DAY_NS)
    config = EngineConfig(allocation=1_000_000, seed=3)
    backtest = run_backtest(window, strategy, config).tables()
    session, clock, flushes = _paper(window, strategy, config, speed=3600.0)
    paper = session.tables()
    assert backtest["fills"].num_rows > 5
    for name in ("fills", "orders", "positions", "pnl", "latency", "events"):
        assert paper[name].equals(backtest[name]), name
    assert 20 <= len(clock.sleeps) <= 30  # a day at 3600x: a wake-up per market hour
    assert flushes >= 5


def test_paper_reveals_bars_only_as_the_clock_reaches_them(btc_minute: Market) -> None:
    seen: list[int] = []

    class Recording:
        def targets(self, bars: pd.DataFrame) -> np.ndarray:
            seen.append(len(bars))
            return np.zeros((len(bars), 1))

    window = btc_minute.between(None, int(btc_minute.ts[600]))
    _paper(window, Recording(), EngineConfig(allocation=1.0), speed=60.0 * 30)
    assert seen[0] == 1  # the first wake-up sees only the first bar
    steps = np.diff(seen)
    assert np.all(steps[:-1] == 30) and 0 < steps[-1] <= 30  # 30 bars per clock second
    assert seen[-1] == 600


class BrokenStrategy(PythonModel):
    """Returns NaN every 100th bar and 3x the allocation every 250th."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        target = np.full(len(model_input), 0.5)
        target[::100] = np.nan
        target[::250] = 3.0
        target[1::250] = -np.inf
        return target


def _save(model: PythonModel, path: Path) -> str:
    mlflow.pyfunc.save_model(
        str(path),
        python_model=model,
        metadata={"stratops": {"symbols": ["BTC/USDT"], "name": "broken"}},
        pip_requirements=["numpy"],
    )
    return str(path)


def test_nan_and_over_limit_targets_become_risk_events(tmp_path: Path, btc_minute: Market) -> None:
    strategy = PyfuncStrategy.load(_save(BrokenStrategy(), tmp_path / "broken"))
    window = btc_minute.between(None, int(btc_minute.ts[1000]))
    session = run_backtest(window, strategy, EngineConfig(allocation=10_000, max_fraction=1.0))
    tables = session.tables()
    events = tables["events"].to_pandas()
    counts = events["kind"].value_counts().to_dict()
    # over: 3.0 at bars 0, 250, 500, 750 and -inf at 1, 251, 501, 751;
    # NaN at 100, 200, ..., 900 except 500 (then 3.0)
    assert counts == {"over_limit": 8, "nan_target": 8}
    over = events[events["kind"] == "over_limit"]
    assert set(over["applied"]) == {1.0, -1.0}
    assert (over["action"] == "clip").all()
    nan = events[events["kind"] == "nan_target"]
    assert (nan["applied"] == 0.0).all() and (nan["action"] == "flatten").all()
    positions = tables["positions"].to_pandas()
    assert positions["target_fraction"].abs().max() <= 1.0
    assert positions["target_fraction"].notna().all()


class CrashingStrategy(PythonModel):
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        raise RuntimeError("division by zero in the signal")


class ShortStrategy(PythonModel):
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        return np.zeros(len(model_input) - 1)


@pytest.mark.parametrize(
    ("model", "message"),
    [(CrashingStrategy(), "division by zero"), (ShortStrategy(), "expected \\(100, 1\\)")],
)
def test_a_failing_strategy_is_a_strategy_error(
    tmp_path: Path, btc_minute: Market, model: PythonModel, message: str
) -> None:
    strategy = PyfuncStrategy.load(_save(model, tmp_path / "model"))
    window = btc_minute.between(None, int(btc_minute.ts[100]))
    with pytest.raises(StrategyError, match=message):
        run_backtest(window, strategy, EngineConfig(allocation=1.0))


def test_a_model_without_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    mlflow.pyfunc.save_model(str(path), python_model=ShortStrategy(), pip_requirements=["numpy"])
    with pytest.raises(StrategyError, match="metadata"):
        PyfuncStrategy.load(str(path))
    with pytest.raises(StrategyError, match="cannot load"):
        PyfuncStrategy.load(str(tmp_path / "missing"))


def test_overfit_sweep_keeps_every_trial(minute_market: Market) -> None:
    spec = strategy_spec("overfit")
    market = minute_market.select(["BTC/USDT"])
    week = market.between(None, int(market.ts[0]) + 7 * DAY_NS)
    configurations = spec.configurations()
    result = run_sweep(week, spec, configurations, EngineConfig(allocation=100_000))
    trials = trials_frame(result.trials)
    assert len(configurations) == 144
    assert trials.shape == (8, 145)  # 7 days + the partial first day; timestamp + 144 trials
    assert str(trials["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert (trials["timestamp"].dt.hour == 0).all()
    assert trials.columns[1:].is_unique
    scores = [trial.metrics["sharpe"] for trial in result.trials]
    best = scores[result.best]
    finite = np.array([s for s in scores if np.isfinite(s)])
    assert best == finite.max()
    assert best > 2 * np.median(finite)  # the winner of many tries looks excellent in sample
