"""Benchmark: the canary judge — 1,000 canaries, each with an hour of fills, in one call.

Run from the repository root::

    .venv/bin/python benchmarks/bench_canary.py                 # table
    .venv/bin/python benchmarks/bench_canary.py --json          # JSON only
    .venv/bin/python benchmarks/bench_canary.py --canaries 200 --fills 500 --skip-rollback

Then, unless ``--skip-rollback``, the controller end to end (:mod:`bench_canary_rollback`, its
docstring says how): a ``haltOn`` breach halts the canary within one tick; halted → rollback PR
open <= 5 s; rollback merged → canary stopped and ``canary`` alias cleared <= interval + 5 s.

Goal: judging every canary of a tick, 1,000 canaries with a one-hour window of fills each,
takes <= 1 s (``stratops.canary.judge_all``: one call, every metric of every window in a few
vectorised passes over the concatenated tables).

Each canary (seeded random telemetry of the telemetry schema: ``--fills`` fills, as many orders
and latency samples, and 60 minute bars of PnL for two symbols) is judged one hour after it
started with the example desk's stat-arb template (5-minute interval, 1-hour window) extended
to all eight metrics, and its replay for ``pnl_vs_backtest``: one measurement of every metric
per canary. The tables are pyarrow tables, as :func:`stratops.telemetry.reader.read` returns
them. Not timed: generating the telemetry.

*Reference*, in the same run: a straightforward per-canary pandas implementation of the same
measurements — for each canary, select the window's rows with boolean masks, compute each
metric with pandas (``groupby`` for the bars, ``quantile`` for the latency, ``cummax`` for the
drawdown) and compare it with the threshold of the window's regime. Its values are checked
against the judge's (relative difference <= 1e-9) before the times are reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import bench_canary_rollback
import numpy as np
import pandas as pd
import pyarrow as pa

from stratops.analytics.regimes import HOURS_PER_WEEK, HourOfWeekProfile, classify
from stratops.canary import AnalysisRun, Canary, CanaryTelemetry, judge_all
from stratops.examples import example_manifests
from stratops.gitops.desk import load_desk
from stratops.model.analysis import AnalysisTemplate, CanaryMetric

STARTED = datetime(2024, 8, 5, 13, 0, tzinfo=UTC)
NOW = STARTED + timedelta(hours=1)
ALLOCATION = 50_000.0
M = CanaryMetric


def _template() -> AnalysisTemplate:
    """The example desk's stat-arb canary template, measuring every metric."""
    desk = load_desk([example_manifests()])
    base = desk.templates["statarb-canary"]
    extra = {
        "slippage_bps": None,
        "implementation_shortfall_bps": ("max", 20.0),
        "markout_1m_bps": ("min", -15.0),
        "reject_rate": ("max", 0.1),
        "drawdown": ("max", 0.05),
        "pnl_vs_backtest": ("min", -3.0),
    }
    body = base.model_dump(mode="json", by_alias=True)
    named = {rule["metric"] for rule in body["spec"]["metrics"]}
    for metric, rule in extra.items():
        if rule is not None and metric not in named:
            condition, threshold = rule
            body["spec"]["metrics"].append(
                {
                    "metric": metric,
                    "condition": condition,
                    "thresholds": dict.fromkeys(("peak", "normal", "thin"), threshold),
                }
            )
    body["spec"]["haltOn"] = [h for h in body["spec"]["haltOn"] if h["metric"] != "drawdown"]
    return AnalysisTemplate.model_validate(body)


def _profile() -> HourOfWeekProfile:
    rng = np.random.default_rng(1)
    volume = tuple(rng.uniform(0.3, 2.5, HOURS_PER_WEEK).tolist())
    ones = (1.0,) * HOURS_PER_WEEK
    return HourOfWeekProfile("BTC/USDT", 0, 1, volume, ones, ones, (4,) * HOURS_PER_WEEK)


def _ts(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.timestamp("ns", tz="UTC"))


def _telemetry(rng: np.random.Generator, fills: int) -> tuple[CanaryTelemetry, pa.Table]:
    start = int(pd.Timestamp(STARTED).value)
    ts = np.sort(start + rng.integers(0, 3600 * 10**9, fills))
    side = np.where(rng.random(fills) < 0.5, "buy", "sell")
    d = np.where(side == "buy", 1.0, -1.0)
    decision = 60_000 * np.exp(rng.normal(0, 0.002, fills))
    arrival = decision * (1 + d * rng.normal(1e-4, 2e-4, fills))
    price = arrival * (1 + d * rng.normal(2e-4, 3e-4, fills))
    quantity = rng.uniform(0.001, 0.02, fills)
    fill_table = pa.table(
        {
            "ts": _ts(ts),
            "side": side,
            "quantity": quantity,
            "price": price,
            "fee": quantity * price * 4e-4,
            "decision_price": decision,
            "arrival_price": arrival,
            "mid_after_1m": price * (1 + rng.normal(0, 5e-4, fills)),
        }
    )
    orders = pa.table(
        {
            "ts": _ts(ts),
            "quantity": quantity / rng.uniform(0.8, 1.0, fills),
            "filled_quantity": quantity,
            "status": np.where(rng.random(fills) < 0.02, "rejected", "filled"),
        }
    )
    latency = pa.table({"ts": _ts(ts), "tick_to_order_ms": rng.lognormal(np.log(40), 0.6, fills)})
    bars = start + 60 * 10**9 * np.arange(1, 61)

    def pnl() -> pa.Table:
        return pa.table(
            {
                "ts": _ts(np.repeat(bars, 2)),
                "symbol": np.tile(["BTC/USDT", "ETH/USDT"], bars.size),
                "net": rng.normal(0.5, 20.0, 2 * bars.size),
            }
        )

    return CanaryTelemetry(fill_table, orders, latency, pnl()), pnl()


def _canaries(count: int, fills: int, seed: int) -> list[Canary]:
    rng = np.random.default_rng(seed)
    template, profile = _template(), _profile()
    found = []
    for index in range(count):
        telemetry, replay = _telemetry(rng, fills)
        found.append(
            Canary(
                f"canary-{index:04d}",
                3,
                template,
                ALLOCATION,
                STARTED,
                telemetry,
                profile,
                replay=replay,
            )
        )
    return found


# --------------------------------------------------------------------------- the reference


def _reference_one(canary: Canary, end: pd.Timestamp) -> dict[str, tuple[float, str]]:
    """Every metric of the window ending at ``end``, the pandas way: value and phase."""
    spec = canary.template.spec
    start = end - pd.Timedelta(spec.window)
    tel = canary.telemetry
    fills = tel.fills.to_pandas()
    fills = fills[(fills["ts"] >= start) & (fills["ts"] < end)]
    orders = tel.orders.to_pandas()
    orders = orders[(orders["ts"] >= start) & (orders["ts"] < end)]
    latency = tel.latency.to_pandas()
    latency = latency[(latency["ts"] >= start) & (latency["ts"] < end)]

    def bars(table: Any) -> pd.Series:
        frame = table.to_pandas()
        frame = frame[(frame["ts"] >= start) & (frame["ts"] < end)]
        return frame.groupby("ts")["net"].sum() / canary.allocation

    own, replay = bars(tel.pnl), bars(canary.replay)
    d = fills["side"].map({"buy": 1.0, "sell": -1.0})
    q, p = fills["quantity"], fills["price"]
    equity = own.cumsum()
    sigma = replay.std(ddof=1)
    values = {
        M.SLIPPAGE_BPS: 1e4
        * (d * q * (p - fills["arrival_price"])).sum()
        / (q * fills["arrival_price"]).sum(),
        M.IMPLEMENTATION_SHORTFALL_BPS: 1e4
        * (d * q * (p - fills["decision_price"]) + fills["fee"]).sum()
        / (q * fills["decision_price"]).sum(),
        M.MARKOUT_1M_BPS: 1e4 * (d * q * (fills["mid_after_1m"] - p)).sum() / (q * p).sum(),
        M.FILL_RATIO: orders["filled_quantity"].sum() / orders["quantity"].sum(),
        M.REJECT_RATE: (orders["status"] == "rejected").mean(),
        M.LATENCY_P99_MS: latency["tick_to_order_ms"].quantile(0.99),
        M.DRAWDOWN: float((equity.cummax().clip(lower=0.0) - equity).max()),
        M.PNL_VS_BACKTEST: (own.sum() - replay.sum()) / (sigma * np.sqrt(len(replay))),
    }
    middle = pd.DatetimeIndex([start + (end - start) / 2])
    regime = classify(canary.profile, middle)["regime"].iloc[0]
    out = {}
    for rule in spec.metrics:
        value = float(values[rule.metric])
        threshold = getattr(rule.thresholds, regime)
        ok = value <= threshold if rule.condition == "max" else value >= threshold
        samples = len(own) if rule.metric in (M.DRAWDOWN, M.PNL_VS_BACKTEST) else len(fills)
        phase = "inconclusive" if samples < spec.min_samples else ("passed" if ok else "failed")
        out[rule.metric.value] = (value, phase)
    return out


def reference(canaries: list[Canary]) -> list[dict[str, tuple[float, str]]]:
    end = pd.Timestamp(NOW)
    return [_reference_one(canary, end) for canary in canaries]


def _agree(runs: list[AnalysisRun], expected: list[dict[str, tuple[float, str]]]) -> int:
    """Measurements compared; raises if the judge and the reference disagree."""
    compared = 0
    for run, theirs in zip(runs, expected, strict=True):
        for m in run.measurements:
            if m.metric.value not in theirs:
                continue
            value, phase = theirs[m.metric.value]
            assert m.value is not None and abs(m.value - value) <= 1e-9 * max(1.0, abs(value)), (
                run.strategy,
                m.metric,
                m.value,
                value,
            )
            assert m.phase.value == phase, (run.strategy, m.metric, m.phase, phase)
            compared += 1
    return compared


def _timed(function: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def run(args: argparse.Namespace) -> dict[str, Any]:
    canaries = _canaries(args.canaries, args.fills, args.seed)
    judge_all(canaries[:10], NOW)  # warm-up: imports and caches
    times = [_timed(lambda: judge_all(canaries, NOW)) for _ in range(args.repeat)]
    judge_s = min(seconds for seconds, _ in times)
    runs: list[AnalysisRun] = times[0][1]
    subset = canaries[: args.reference_canaries]
    reference_subset_s, expected = _timed(lambda: reference(subset))
    compared = _agree(runs[: len(subset)], expected)
    reference_s = reference_subset_s * len(canaries) / len(subset)
    measurements = sum(len(r.measurements) for r in runs)
    return {
        "canaries": len(canaries),
        "fills_per_canary": args.fills,
        "measurements": measurements,
        "judge_s": judge_s,
        "judge_per_canary_ms": 1e3 * judge_s / len(canaries),
        "digest_all_s": _timed(lambda: [r.digest for r in runs])[0],
        "reference_s": reference_s,
        "reference_canaries": len(subset),
        "reference_agrees_on": compared,
        "ratio": reference_s / judge_s,
        "phases": dict(pd.Series([r.phase.value for r in runs]).value_counts()),
        "goal_s": 1.0,
        "machine": f"{platform.machine()} python {platform.python_version()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--fills", type=int, default=200, help="fills per canary in the hour")
    parser.add_argument("--repeat", type=int, default=3, help="timed judge calls (best kept)")
    parser.add_argument(
        "--reference-canaries", type=int, default=100, help="canaries the reference times"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip-rollback", action="store_true", help="the judge only, not the controller run"
    )
    bench_canary_rollback.add_arguments(parser)
    args = parser.parse_args()
    result = run(args)
    if not args.skip_rollback:
        result["rollback"] = bench_canary_rollback.run(args.interval, args.speed, args.json)
    if args.json:
        print(json.dumps(result, indent=2, default=int))
        return
    print(
        f"{result['canaries']:,} canaries x {result['fills_per_canary']} fills, one hour each: "
        f"{result['measurements']:,} measurements"
    )
    print(f"  judge_all (one call)          {result['judge_s']:8.3f} s  (goal <= 1 s)")
    print(f"  per canary                    {result['judge_per_canary_ms']:8.3f} ms")
    print(f"  digests of every run          {result['digest_all_s']:8.3f} s")
    print(
        f"  reference (pandas per canary, {result['reference_canaries']} timed, extrapolated) "
        f"{result['reference_s']:8.3f} s; agrees on {result['reference_agrees_on']} "
        "measurements"
    )
    print(f"  ratio reference / judge       {result['ratio']:8.1f}x   phases {result['phases']}")
    if "rollback" in result:
        print()
        bench_canary_rollback.print_table(result["rollback"])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
