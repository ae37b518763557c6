"""Benchmark: a whole gate evaluation on a large bundle, against a plain reference.

Run from the repository root::

    .venv/bin/python benchmarks/bench_gates.py           # table
    .venv/bin/python benchmarks/bench_gates.py --json    # JSON only

The bundle (written once, seeded) has 1.5M minute returns, 200k trades and 1,000 trials x
1,095 daily returns; the policy is the example desk's stat-arb canary rules with PBO over 16
blocks (12,870 combinations). Timed: loading the verified bundle into arrays, and evaluating
every check (goal: the whole evaluation <= 2 s). The reference is the same evaluation with PBO
computed by a plain loop over combinations, as public implementations do; it is timed on a
subset of combinations and extrapolated linearly (each combination does the same work).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_pbo import reference_pbo  # benchmarks/ is not a package: path inserted above

from stratops.analytics.overfitting import pbo_cscv
from stratops.examples import example_manifests
from stratops.gates.context import GateContext
from stratops.gates.engine import evaluate
from stratops.gitops.desk import load_desk
from stratops.model.base import Stage, StrategyType
from stratops.registry.arrays import load_evidence_arrays
from stratops.registry.bundle import scan_bundle
from stratops.registry.synthetic import write_synthetic_bundle

RETURN_ROWS = 1_500_000
TRADES = 200_000
TRIALS = 1_000
TRIAL_DAYS = 1_095


def _timed(function: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def run(args: argparse.Namespace) -> dict[str, Any]:
    policy = load_desk([example_manifests()]).policy
    assert policy is not None
    with tempfile.TemporaryDirectory(prefix="bench-gates-") as scratch:
        folder = Path(scratch) / "bundle"
        write_seconds, _ = _timed(
            lambda: write_synthetic_bundle(
                folder,
                return_rows=RETURN_ROWS,
                trades=TRADES,
                trials=TRIALS,
                trial_days=TRIAL_DAYS,
                strategy_type=StrategyType.STAT_ARB,
                seed=args.seed,
            )
        )
        scan_seconds, bundle = _timed(lambda: scan_bundle(folder))
        load_seconds, evidence = _timed(lambda: load_evidence_arrays(bundle))
    end = datetime.fromtimestamp(int(evidence.returns_timestamp[-1]) // 10**9, UTC)
    context = GateContext(
        strategy="bench",
        version=2,
        strategy_type=StrategyType.STAT_ARB,
        target_stage=Stage.CANARY,
        allocation=50_000.0,
        as_of=end + timedelta(days=1),
        current_stage=Stage.PAPER,
        in_stage_since=end - timedelta(days=10),
        registry_trials=TRIALS,
    )
    evaluate(evidence, policy, context)  # warm-up: imports and caches
    runs = [_timed(lambda: evaluate(evidence, policy, context)) for _ in range(args.repeat)]
    evaluate_seconds = min(seconds for seconds, _ in runs)
    report = runs[0][1]
    pbo_check = next(r for r in report.checks if r.name == "pbo")

    n_comb = math.comb(16, 8)
    subset = min(args.reference_combinations, n_comb)
    reference_subset_seconds, _ = _timed(
        lambda: reference_pbo(evidence.trials, n_blocks=16, max_combinations=subset)
    )
    reference_pbo_seconds = reference_subset_seconds * n_comb / subset
    pbo_seconds, _ = _timed(lambda: pbo_cscv(evidence.trials, n_blocks=16))
    reference_total = evaluate_seconds - pbo_seconds + reference_pbo_seconds
    return {
        "bundle": {"return_rows": RETURN_ROWS, "trades": TRADES, "trials": TRIALS},
        "write_bundle_s": write_seconds,
        "scan_bundle_s": scan_seconds,
        "load_arrays_s": load_seconds,
        "evaluate_s": evaluate_seconds,
        "load_and_evaluate_s": load_seconds + evaluate_seconds,
        "checks": len(report.checks),
        "verdict": report.verdict,
        "pbo": pbo_check.value,
        "reference_evaluate_s": reference_total,
        "reference_pbo_subset": subset,
        "ratio": reference_total / evaluate_seconds,
        "goal_s": 2.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--repeat", type=int, default=3, help="timed evaluations (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reference-combinations", type=int, default=300, help="combinations the loop times"
    )
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"bundle: {RETURN_ROWS:,} minute returns, {TRADES:,} trades, {TRIALS:,} trials")
    print(f"  write (synthetic, once)     {result['write_bundle_s']:8.2f} s")
    print(f"  scan + hash (registry)      {result['scan_bundle_s']:8.2f} s")
    print(f"  load arrays                 {result['load_arrays_s']:8.2f} s")
    print(f"  evaluate {result['checks']} checks          {result['evaluate_s']:8.2f} s")
    print(f"  load + evaluate             {result['load_and_evaluate_s']:8.2f} s  (goal <= 2 s)")
    print(
        f"  reference (PBO loop, {result['reference_pbo_subset']} of 12,870 combinations, "
        f"extrapolated) {result['reference_evaluate_s']:8.2f} s"
    )
    print(f"  ratio reference / stratops  {result['ratio']:8.1f}x   verdict {result['verdict']}")


if __name__ == "__main__":
    main()
