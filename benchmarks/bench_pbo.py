"""Benchmark: vectorised PBO (``stratops.analytics.overfitting.pbo_cscv``) against a plain loop.

Run from the repository root::

    .venv/bin/python benchmarks/bench_pbo.py            # table on stdout
    .venv/bin/python benchmarks/bench_pbo.py --json     # machine-readable, JSON only

The input is a seeded T x N matrix of daily returns (Student-t with 4 degrees of freedom,
2 % daily volatility, a small random drift per strategy), 1,095 days x 1,000 strategies by
default, cut into 16 blocks: C(16, 8) = 12,870 combinations. ``pbo_cscv`` runs on all of
them (best and median of ``--repeat`` runs, after one warm-up). The reference loop
(``benchmarks/reference_pbo.py``) is timed on the first ``--reference-combinations``
combinations only and extrapolated linearly to all of them: every combination does the same
work, so the per-combination cost is constant. Both must give the same logits on that
subset (to 1e-9); otherwise the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_pbo import reference_pbo  # benchmarks/ is not a package: path inserted above

from stratops.analytics.overfitting import pbo_cscv

LOGIT_TOLERANCE = 1e-9


def make_returns(n_rows: int, n_strategies: int, seed: int) -> NDArray[np.float64]:
    """Seeded fat-tailed daily returns; column j has its own small drift."""
    rng = np.random.default_rng(seed)
    scale = 0.02 / math.sqrt(4.0 / (4.0 - 2.0))  # t(4) has variance 2; scale to 2 % vol
    drift = rng.normal(0.0, 0.0005, size=n_strategies)
    noise: NDArray[np.float64] = rng.standard_t(4.0, size=(n_rows, n_strategies)) * scale
    return noise + drift


def run(args: argparse.Namespace) -> dict[str, Any]:
    returns = make_returns(args.rows, args.strategies, args.seed)
    n_comb = math.comb(args.blocks, args.blocks // 2)
    subset = min(args.reference_combinations, n_comb)

    pbo_cscv(returns, n_blocks=args.blocks)  # warm-up: imports, combination cache
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = pbo_cscv(returns, n_blocks=args.blocks)
        times.append(time.perf_counter() - start)

    start = time.perf_counter()
    reference = reference_pbo(returns, n_blocks=args.blocks, max_combinations=subset)
    reference_time = time.perf_counter() - start
    extrapolated = reference_time / subset * n_comb

    diff = float(np.max(np.abs(result.logits[:subset] - reference.logits)))
    fast = min(times)
    return {
        "rows": args.rows,
        "strategies": args.strategies,
        "blocks": args.blocks,
        "combinations": n_comb,
        "seed": args.seed,
        "pbo": result.pbo,
        "pbo_cscv_seconds_best": fast,
        "pbo_cscv_seconds_median": statistics.median(times),
        "pbo_cscv_runs": args.repeat,
        "reference_combinations_timed": subset,
        "reference_seconds_measured": reference_time,
        "reference_seconds_extrapolated": extrapolated,
        "speedup": extrapolated / fast,
        "logits_max_abs_diff": diff,
        "logits_match": diff <= LOGIT_TOLERANCE,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
    }


def render(r: dict[str, Any]) -> str:
    n, sub = r["combinations"], r["reference_combinations_timed"]
    rows = [
        ("implementation", "combinations", "wall time (s)", "note"),
        (
            "pbo_cscv (vectorised)",
            f"{n:,}",
            f"{r['pbo_cscv_seconds_best']:.3f}",
            f"best of {r['pbo_cscv_runs']}, median {r['pbo_cscv_seconds_median']:.3f}",
        ),
        (
            "reference loop",
            f"{sub:,}",
            f"{r['reference_seconds_measured']:.3f}",
            "measured on the first combinations",
        ),
        (
            "reference loop",
            f"{n:,}",
            f"{r['reference_seconds_extrapolated']:.1f}",
            f"extrapolated linearly: measured x {n:,} / {sub:,}",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"PBO by CSCV: {r['rows']:,} rows x {r['strategies']:,} strategies, "
        f"{r['blocks']} blocks -> {n:,} combinations (seed {r['seed']})",
        "",
    ]
    for i, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[j]) if j in (0, 3) else cell.rjust(widths[j])
                for j, cell in enumerate(row)
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    verdict = "identical" if r["logits_match"] else "DIFFERENT"
    lines += [
        "",
        f"speed-up: {r['speedup']:,.0f}x (extrapolated reference / best pbo_cscv)",
        f"logits on the first {sub:,} combinations: {verdict} within {LOGIT_TOLERANCE:g} "
        f"(max |diff| {r['logits_max_abs_diff']:.1e})",
        f"pbo = {r['pbo']:.4f}; python {r['python']}, numpy {r['numpy']}, {r['cpu_count']} CPUs",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1095, help="periods T (default 1095)")
    parser.add_argument("--strategies", type=int, default=1000, help="strategies N (1000)")
    parser.add_argument("--blocks", type=int, default=16, help="CSCV blocks S (16)")
    parser.add_argument(
        "--reference-combinations",
        type=int,
        default=500,
        help="combinations the reference loop is timed on (500)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of pbo_cscv (3)")
    parser.add_argument("--seed", type=int, default=20240805, help="random seed")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.reference_combinations < 1:
        parser.error("--repeat and --reference-combinations must be >= 1")
    result = run(args)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else render(result))
    return 0 if result["logits_match"] else 1


if __name__ == "__main__":
    sys.exit(main())
