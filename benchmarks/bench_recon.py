"""Reconcile 1M ledger fills against 1M venue fills with 1% injected breaks.

Breaks injected (each on its own fill): dropped at the venue, dropped in the ledger, duplicated
at the venue, price shifted, quantity changed, fee asset changed, and manual venue trades.
Checks that every break is found with its class, and prints the time against a
dictionary-based per-fill reference (keyed by client order id) measured in the same run.

    PYTHONPATH=. python benchmarks/bench_recon.py [--fills 1000000]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import pandas as pd

from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.ops.reconciliation.matching import match_fills

KINDS = (
    "missing_external",
    "missing_internal",
    "duplicate",
    "price",
    "quantity",
    "fee",
    "external_activity",
)


def build(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, Counter[str]]:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(1_700_000_000 * 10**9, 1_700_086_400 * 10**9, n))
    symbol = np.where(rng.random(n) < 0.6, "BTC/USDT", "ETH/USDT").astype(object)
    price = np.round(
        np.where(symbol == "BTC/USDT", 60_000.0, 3_000.0) * (1 + rng.normal(0, 1e-3, n)), 2
    )
    quantity = np.round(rng.exponential(0.05, n) + 1e-4, 6)
    ledger = pd.DataFrame(
        {
            "ts": ts,
            "symbol": symbol,
            "side": np.where(rng.random(n) < 0.5, "buy", "sell").astype(object),
            "quantity": quantity,
            "price": price,
            "fee": quantity * price * 4e-4,
            "fee_asset": np.full(n, "USDT", dtype=object),
            "order_key": np.arange(n, dtype=np.int64),
            "trade_key": np.full(n, -1, dtype=np.int64),
            "activity": np.full(n, "trade", dtype=object),
        }
    )
    venue = ledger.copy()
    venue["trade_key"] = np.arange(n, dtype=np.int64) + 10**10
    rows = rng.choice(n, size=n // 100, replace=False)
    groups = np.array_split(rows, len(KINDS))
    expected: Counter[str] = Counter()
    drop_v, drop_l = groups[0], groups[1]
    venue.loc[groups[3], "price"] *= 1.001
    venue.loc[groups[4], "quantity"] *= 2
    venue.loc[groups[5], "fee_asset"] = "BNB"
    manual = venue.loc[groups[6]].assign(order_key=-1, trade_key=np.arange(len(groups[6])) + 10**11)
    copies = venue.loc[groups[2]]
    venue = pd.concat([venue.drop(index=drop_v), copies, manual], ignore_index=True)
    ledger = ledger.drop(index=drop_l).reset_index(drop=True)
    venue = venue.sort_values("ts", kind="stable").reset_index(drop=True)
    for kind, group in zip(KINDS, groups, strict=True):
        expected[kind] = len(group)
    return ledger, venue, expected


def reference(ledger: pd.DataFrame, venue: pd.DataFrame, known: set[int]) -> Counter[str]:
    """Per-fill loop over dictionaries keyed by client order id (one fill per order here)."""
    found: Counter[str] = Counter()
    mine = {r["order_key"]: r for r in ledger.to_dict("records")}
    seen_trades: set[int] = set()
    theirs: dict[int, dict[str, object]] = {}
    for r in venue.to_dict("records"):
        if r["trade_key"] in seen_trades:
            found["duplicate"] += 1
            continue
        seen_trades.add(r["trade_key"])
        if r["order_key"] < 0 or r["order_key"] not in known:
            found["external_activity"] += 1
        elif r["order_key"] not in mine:
            found["missing_internal"] += 1
        else:
            theirs[r["order_key"]] = r
    for key, r in mine.items():
        v = theirs.get(key)
        if v is None:
            found["missing_external"] += 1
            continue
        if abs(r["quantity"] - v["quantity"]) > 1e-9 + 1e-9 * abs(v["quantity"]):
            found["quantity"] += 1
        if abs(r["price"] - v["price"]) > 0.1e-4 * abs(v["price"]):
            found["price"] += 1
        if r["fee_asset"] != v["fee_asset"]:
            found["fee"] += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=1_000_000)
    args = parser.parse_args()
    ledger, venue, expected = build(args.fills)
    policy = ReconciliationPolicySpec()
    known = np.arange(args.fills, dtype=np.int64)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        breaks = match_fills(ledger, venue, policy.tolerances, known)
        best = min(best, time.perf_counter() - start)
    found = Counter(breaks["class"])
    start = time.perf_counter()
    slow = reference(ledger, venue, set(known.tolist()))
    slow_seconds = time.perf_counter() - start
    print(
        f"ledger {len(ledger):,} fills, venue {len(venue):,} fills, "
        f"{sum(expected.values()):,} breaks injected"
    )
    print(
        f"vectorised: {best:.3f} s (best of 3); "
        f"reference per-fill dictionaries: {slow_seconds:.3f} s;"
        f" ratio {slow_seconds / best:.1f}x"
    )
    print("found:", dict(sorted(found.items())))
    ok = found == expected and slow == expected
    print("all breaks found and classified:", ok, "; within 2 s:", best <= 2.0)
    if not ok:
        raise SystemExit(f"expected {dict(expected)}")


if __name__ == "__main__":
    main()
