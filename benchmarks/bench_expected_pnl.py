"""Benchmark: what ``pnl_vs_backtest`` costs the controller — the canary's version replayed.

Run from the repository root::

    .venv/bin/python benchmarks/bench_expected_pnl.py            # table
    .venv/bin/python benchmarks/bench_expected_pnl.py --json     # JSON only

:class:`stratops.controller.expectations.ExpectedPnl` keeps each canary's replay (a paper-engine
session) in memory and, at each tick, simulates only the bars that closed since the last one.
Two canaries of a trend follower (the controller tests' model, registered with synthetic
evidence in an embedded MLflow; not timed):

- **1h bars over 30 days** (``binance-1h``, 2024-03-01 to 2024-03-31), judged once a day
  (the quick start's ``trend-canary`` interval): 30 ticks;
- **1m bars over a day** (``binance-1m``, 2024-08-05), judged every 15 minutes: 96 ticks;
- the same over the first day of a deployment replaying 29 days of ``binance-1m`` (the engine's
  trailing features are computed over the deployment's whole market once, at the first tick).

Timed, for each: every tick of the canary's life on one controller (*first* tick: download and
verify the model, load it and the market, replay up to the clock; then *incremental* ticks:
the new bars, the window's rows), and a *cold* tick at the end of the window (a restarted
controller replays the whole canary once). Each tick's replay is the same table as a one-shot
``stratops.paper.replay.expected_pnl`` of the same bars (checked); that one-shot replay, timed,
is the reference: what a tick would cost replaying the canary from its first bar.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc
import yaml

from stratops.controller.expectations import ExpectedPnl, evidence_config
from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import Stage, StrategyType
from stratops.model.deployment import DeploymentSpec, Replay
from stratops.model.strategy import HaltBehaviour
from stratops.paper.datasets import load_dataset
from stratops.paper.replay import expected_pnl
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategies.base import save_strategy
from stratops.paper.strategy import PyfuncStrategy
from stratops.registry import Registry
from stratops.registry.location import resolve_location
from stratops.registry.synthetic import write_synthetic_bundle

TEMPLATE = """\
apiVersion: stratops.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: replayed}
spec:
  interval: 1h
  window: 1h
  metrics:
    - metric: pnl_vs_backtest
      condition: min
      thresholds: {peak: -3, normal: -3, thin: -3}
"""


@dataclass(frozen=True)
class Case:
    name: str
    dataset: str
    start: datetime
    days: int  # judged over its first ``days``
    interval: timedelta
    window: timedelta
    deployed_days: int | None = None  # the deployment's replay window (default: ``days``)


CASES = (
    Case(
        "1h bars, 30 days, daily ticks",
        "binance-1h",
        datetime(2024, 3, 1, tzinfo=UTC),
        30,
        timedelta(days=1),
        timedelta(days=28),
    ),
    Case(
        "1m bars, 1 day, 15-minute ticks",
        "binance-1m",
        datetime(2024, 8, 5, tzinfo=UTC),
        1,
        timedelta(minutes=15),
        timedelta(hours=1),
    ),
    Case(
        "1m bars, first day of a 30-day deployment, 15-minute ticks",
        "binance-1m",
        datetime(2024, 7, 27, tzinfo=UTC),
        1,
        timedelta(minutes=15),
        timedelta(hours=1),
        deployed_days=29,
    ),
)


def _registry(folder: Path) -> tuple[Registry, Path]:
    model = folder / "model"
    market = load_dataset("binance-1m", symbols=["BTC/USDT"])
    save_strategy(
        strategy_spec("trend").build({"fast": 10, "slow": 60}), model, market.bars_frame(5)
    )
    location = resolve_location(None, environ={}, desk=lambda: folder)
    registry = Registry(location)
    bundle = write_synthetic_bundle(folder / "bundle", strategy_type=StrategyType.TREND)
    registry.register(
        "btc-trend", strategy_type=StrategyType.TREND, evidence=bundle, model_path=model
    )
    return registry, model


def _deployed_until(case: Case) -> datetime:
    return case.start + timedelta(days=case.deployed_days or case.days)


def _spec(case: Case) -> DeploymentSpec:
    end = _deployed_until(case)
    return DeploymentSpec(
        strategy="btc-trend",
        stage=Stage.CANARY,
        version=1,
        allocation=50_000.0,
        model_uri="models:/btc-trend/1",
        strategy_type="trend",
        venue="binance",
        symbols=("BTC/USDT",),
        halt=HaltBehaviour.FLATTEN,
        commit="0" * 40,
        replay=Replay(dataset=case.dataset, start=case.start.isoformat(), end=end.isoformat()),
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def run_case(
    case: Case, registry: Registry, model: Path, template: AnalysisTemplate
) -> dict[str, Any]:
    spec = _spec(case)
    end = case.start + timedelta(days=case.days)
    step = pd.Timedelta(load_dataset(case.dataset, symbols=["BTC/USDT"]).step_ns, "ns")
    started = case.start + step.to_pytimedelta()  # the close of the first bar
    clocks = []
    clock = case.start + case.interval
    while clock <= end:
        clocks.append(clock)
        clock += case.interval
    expected = ExpectedPnl(registry)
    ticks = []
    table = None
    for clock in clocks:
        since = max(clock - case.window, case.start)
        begin = time.perf_counter()
        table, problem = expected.of(spec, case.dataset, template, started, clock, since)
        ticks.append(time.perf_counter() - begin)
        assert problem is None and table is not None, problem
    begin = time.perf_counter()
    cold, problem = ExpectedPnl(registry).of(
        spec, case.dataset, template, started, clocks[-1], clocks[-1] - case.window
    )
    cold_seconds = time.perf_counter() - begin
    assert cold is not None and table is not None and cold.equals(table), problem
    market = load_dataset(case.dataset, symbols=["BTC/USDT"]).between(
        int(pd.Timestamp(case.start).value), int(pd.Timestamp(_deployed_until(case)).value)
    )
    begin = time.perf_counter()
    one_shot = expected_pnl(
        market,
        PyfuncStrategy.load(str(model)),
        evidence_config(spec),
        int(pd.Timestamp(case.start).value),
        int(pd.Timestamp(clocks[-1]).value),
    )
    one_shot_seconds = time.perf_counter() - begin
    since_ns = int(pd.Timestamp(clocks[-1] - case.window).value)
    tail = one_shot.filter(pc.greater_equal(one_shot.column("ts").cast("int64"), since_ns))
    assert tail.select(["ts", "net"]).equals(table.select(["ts", "net"])), "not the one-shot replay"
    incremental = ticks[1:]
    return {
        "case": case.name,
        "bars": len(one_shot),
        "ticks": len(ticks),
        "first_tick_ms": _ms(ticks[0]),
        "incremental_tick_median_ms": _ms(statistics.median(incremental)),
        "incremental_tick_max_ms": _ms(max(incremental)),
        "all_ticks_s": round(sum(ticks), 2),
        "cold_tick_at_end_ms": _ms(cold_seconds),
        "reference_one_shot_replay_ms": _ms(one_shot_seconds),
        "ratio_reference_per_tick": round(one_shot_seconds / statistics.median(incremental), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="JSON only")
    args = parser.parse_args()
    template = AnalysisTemplate.model_validate(yaml.safe_load(TEMPLATE))
    with tempfile.TemporaryDirectory(prefix="bench-expected-") as scratch:
        registry, model = _registry(Path(scratch))
        results = [run_case(case, registry, model, template) for case in CASES]
    report = {"python": sys.version.split()[0], "machine": platform.machine(), "cases": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for row in results:
        print(row["case"])
        for key, value in row.items():
            if key != "case":
                print(f"  {key:30} {value}")


if __name__ == "__main__":
    main()
