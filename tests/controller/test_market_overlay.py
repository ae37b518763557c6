"""The volatility-shock overlay the controller exports, on the real market of its dataset.

``binance-1m`` is the packaged Binance BTC/USDT minute candles (July-August 2024, source in
``stratops/data/market``'s README): 2024-08-05 is the crash, 2024-08-14 an ordinary Wednesday.
The gauge must agree with the canary judge, which judges a one-hour window ending at the same
moment as thin for the same shock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratops.analytics.regimes import shocked
from stratops.controller.market_step import MarketStep
from stratops.controller.observability import Metrics
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, DeploymentState, DeploymentStatus, Replay
from stratops.model.strategy import HaltBehaviour
from stratops.paper.datasets import symbol_regimes
from stratops.runtime.local import LocalRuntime

SHOCK = "volatility_shock"


def _status(symbol: str) -> DeploymentStatus:
    spec = DeploymentSpec(
        strategy="btc-trend",
        stage=Stage.PAPER,
        version=1,
        allocation=10_000,
        model_uri="models:/btc-trend/1",
        strategy_type="trend",
        venue="binance",
        symbols=(symbol,),
        halt=HaltBehaviour.FLATTEN,
        commit="0" * 40,
        replay=Replay(dataset="binance-1m", start="2024-07-27", end="2024-08-25"),
    )
    return DeploymentStatus(
        spec=spec, state=DeploymentState.RUNNING, since=datetime(2024, 7, 27, tzinfo=UTC),
        instance="1",
    )  # fmt: skip


def _overlay(tmp_path: Path, moments: pd.DatetimeIndex) -> np.ndarray:
    """The exported overlay of binance BTC/USDT at each moment, one tick each."""
    clock = iter(moments.to_pydatetime())
    metrics = Metrics()
    step = MarketStep(
        runtime=LocalRuntime(tmp_path / "runtime"),
        metrics=metrics,
        now=lambda: next(clock),
        log=logging.getLogger("test"),
    )
    observed = {("btc-trend", Stage.PAPER): _status("BTC/USDT")}
    labels = {"venue": "binance", "symbol": "BTC/USDT", "overlay": SHOCK}
    values = []
    for _ in moments:
        step.export(observed)
        values.append(metrics.registry.get_sample_value("stratops_market_overlay", labels))
    return np.array(values)


def test_the_shock_overlay_is_on_over_the_crash_and_off_on_a_quiet_day(tmp_path: Path) -> None:
    crash = pd.date_range("2024-08-05 01:30", "2024-08-05 15:00", freq="30min", tz="UTC")
    quiet = pd.date_range("2024-08-14 00:00", "2024-08-14 23:30", freq="30min", tz="UTC")
    values = _overlay(tmp_path, crash.append(quiet))
    on, off = values[: len(crash)], values[len(crash) :]
    assert set(off.tolist()) == {0.0}
    assert set(on.tolist()) <= {0.0, 1.0} and on.mean() > 0.8
    peak = crash.get_indexer(pd.DatetimeIndex(["2024-08-05 02:30", "2024-08-05 06:30"], tz="UTC"))
    assert on[peak].tolist() == [1.0, 1.0]
    # the canary judge's test of the trailing hour says the same at every tick
    profile, hourly = symbol_regimes("binance-1m", "BTC/USDT")
    assert profile is not None
    ends = crash.append(quiet).as_unit("ns").asi8
    judged = shocked(profile, hourly, ends - 3600 * 10**9, ends)
    assert values.tolist() == judged.astype(float).tolist()


@pytest.mark.parametrize("moment", ["2026-12-03 03:00", "2024-07-01 12:00"])
def test_no_shock_where_the_dataset_has_no_hour(tmp_path: Path, moment: str) -> None:
    assert _overlay(tmp_path, pd.DatetimeIndex([moment], tz="UTC")).tolist() == [0.0]
