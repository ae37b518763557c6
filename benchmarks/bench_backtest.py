"""Backtest throughput of the paper engine against a plain per-bar Python loop.

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--json] [--repeat N]``

Two cases on the shipped data: the ETH/BTC mean reversion over 30 days of 1-minute bars (two
symbols), and the BTC trend follower over seven years of hourly bars. For each it reports, in
symbol-bars per second (bars × symbols / seconds, best of ``--repeat`` runs):

- ``simulation``: the engine's simulator given the strategy's targets (features, orders,
  fills, positions, P&L) — the number the 1M bars/s goal is about;
- ``backtest``: the whole backtest, the strategy's predict included;
- ``telemetry``: building the six telemetry tables from a finished run;
- ``reference``: the same accounting written as a per-bar Python loop (:func:`reference`),
  measured in the same run; its P&L is checked against the engine's before timing counts.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stratops.paper.config import EngineConfig
from stratops.paper.datasets import load_dataset
from stratops.paper.engine import Session, run_backtest, symbol_data
from stratops.paper.execution import SymbolData, initial_state, simulate_symbol
from stratops.paper.market import Market
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategy import apply_limits

GOAL = 1_000_000.0


@dataclass(frozen=True)
class Case:
    name: str
    strategy: str
    dataset: str
    overrides: dict[str, Any]


CASES = (
    Case("30d x 1m x 2 symbols (meanrev)", "meanrev", "binance-1m", {}),
    Case("7y x 1h x 1 symbol (trend)", "trend", "binance-1h", {}),
)


def reference(
    data: SymbolData, fractions: np.ndarray, allocation: float, config: EngineConfig
) -> list[float]:
    """The engine's accounting for one symbol, bar by bar in plain Python; net P&L per bar."""
    ex = config.execution
    ts, op, cl, vol, mark = (
        a.tolist() for a in (data.ts, data.open, data.close, data.volume, data.mark)
    )
    half, sigma = data.features.half_spread.tolist(), data.features.volatility.tolist()
    tick, wire = data.features.tick_to_order_ms.tolist(), data.features.order_to_venue_ms.tolist()
    fr = fractions.tolist()
    position, fraction, ref, units, last_mark = 0.0, 0.0, math.nan, 0.0, mark[0]
    net = []
    for j in range(len(ts)):
        # the target of bar j was decided at the close of bar j - 1 (state before this bar)
        target, decision = units, last_mark
        d = max(j - 1, 0)
        cap = ex.participation * vol[j]
        new_position = min(max(target, position - cap), position + cap)
        filled = new_position - position
        decision_ns = ts[j] + round(tick[d] * 1_000_000)
        arrival_ns = decision_ns + round(wire[d] * 1_000_000)
        elapsed = min((arrival_ns - ts[j]) / data.step_ns, 1.0)
        arrival = op[j] + (cl[j] - op[j]) * elapsed
        impact = (
            ex.impact_coefficient * sigma[d] * math.sqrt(abs(filled) / vol[j])
            if vol[j] > 0
            else 0.0
        )
        side = (filled > 0) - (filled < 0)
        price = arrival * (1.0 + side * (half[d] + impact))
        fee = abs(filled) * price * ex.taker_fee_bps / 1e4
        gross = position * (mark[j] - last_mark) + filled * (mark[j] - decision)
        costs = filled * (arrival - decision) + abs(filled) * arrival * (half[d] + impact)
        net.append(gross - costs - fee)
        # the decision at the close of bar j, for bar j + 1
        if fr[j] != fraction:
            ref = mark[j]
        fraction = fr[j]
        units = 0.0 if fraction == 0 else fraction * allocation / ref
        position, last_mark = new_position, mark[j]
    return net


def best_of(repeat: int, function: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def run_case(case: Case, repeat: int) -> dict[str, Any]:
    spec = strategy_spec(case.strategy)
    market: Market = load_dataset(case.dataset, symbols=list(spec.symbols))
    strategy = spec.build(case.overrides)
    config = EngineConfig(allocation=1_000_000)
    targets = apply_limits(
        strategy.targets(market.bars_frame(market.bars)), config.max_fraction
    ).targets
    symbol_bars = market.bars * len(market.symbols)

    def simulate() -> list[np.ndarray]:
        datas = symbol_data(market, config)
        return [
            simulate_symbol(
                d, targets[:, c], 0, initial_state(d), config.allocation, config.execution
            )[0].net
            for c, d in enumerate(datas)
        ]

    datas = symbol_data(market, config)
    engine_net = simulate()
    for column, data in enumerate(datas):
        loop_net = reference(data, targets[:, column], config.allocation, config)
        np.testing.assert_allclose(engine_net[column], loop_net, rtol=1e-9, atol=1e-6)

    session: Session = run_backtest(market, strategy, config)
    seconds = {
        "simulation": best_of(repeat, simulate),
        "backtest": best_of(repeat, lambda: run_backtest(market, strategy, config).portfolio()),
        "telemetry": best_of(repeat, session.tables),
        "reference": best_of(
            max(1, repeat // 3),
            lambda: [
                reference(d, targets[:, c], config.allocation, config) for c, d in enumerate(datas)
            ],
        ),
    }
    rates = {name: symbol_bars / value for name, value in seconds.items()}
    return {
        "case": case.name,
        "bars": market.bars,
        "symbols": len(market.symbols),
        "symbol_bars": symbol_bars,
        "seconds": seconds,
        "bars_per_second": rates,
        "speedup_vs_reference": rates["simulation"] / rates["reference"],
        "meets_goal": rates["simulation"] >= GOAL,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON only")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best kept)")
    args = parser.parse_args()
    results = [run_case(case, args.repeat) for case in CASES]
    if args.json:
        print(
            json.dumps(
                {
                    "machine": platform.machine(),
                    "python": platform.python_version(),
                    "goal_bars_per_second": GOAL,
                    "results": results,
                },
                indent=2,
            )
        )
        return
    columns = ("simulation", "backtest", "telemetry", "reference")
    header = f"{'case':34} {'symbol-bars':>11} " + " ".join(f"{c:>12}" for c in columns)
    print(f"{header} {'speed-up':>9}")
    print("-" * (len(header) + 10))
    for r in results:
        rates = " ".join(f"{r['bars_per_second'][c]:>12,.0f}" for c in columns)
        speedup = r["speedup_vs_reference"]
        print(f"{r['case']:34} {r['symbol_bars']:>11,} {rates} {speedup:>8.1f}x")
    print(f"\nsymbol-bars per second, best of {args.repeat}; goal: simulation >= {GOAL:,.0f}")


if __name__ == "__main__":
    main()
