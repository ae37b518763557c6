"""One reconciliation: a ledger and a venue statement in, the breaks out (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stratops.model.reconciliation import BreakClass, ReconciliationPolicySpec
from stratops.ops.reconciliation.breaks import combine
from stratops.ops.reconciliation.drift import compare_amounts, compare_orders
from stratops.ops.reconciliation.frames import empty_fills, empty_orders
from stratops.ops.reconciliation.matching import match_fills


@dataclass(frozen=True)
class Book:
    """What one side holds (:mod:`.frames`); an amount Series that is None is not compared."""

    fills: pd.DataFrame = field(default_factory=empty_fills)
    orders: pd.DataFrame = field(default_factory=empty_orders)
    positions: pd.Series | None = None
    balances: pd.Series | None = None
    funding: pd.Series | None = None


def _amounts(
    kind: BreakClass,
    ledger: pd.Series | None,
    venue: pd.Series | None,
    policy: ReconciliationPolicySpec,
    as_of_ns: int,
) -> pd.DataFrame | None:
    if ledger is None or venue is None:
        return None
    tolerance = (
        policy.tolerances.quantity
        if kind is BreakClass.POSITION_DRIFT
        else policy.tolerances.balance
    )
    return compare_amounts(kind, ledger, venue, tolerance, as_of_ns)


def reconcile(
    ledger: Book, venue: Book, policy: ReconciliationPolicySpec, as_of_ns: int
) -> pd.DataFrame:
    """Every break between ``ledger`` and ``venue`` as of ``as_of_ns`` (:mod:`.breaks`)."""
    known = np.union1d(
        ledger.orders["order_key"].to_numpy(np.int64),
        ledger.fills["order_key"].to_numpy(np.int64),
    )
    parts = [
        match_fills(ledger.fills, venue.fills, policy.tolerances, known),
        compare_orders(ledger.orders, venue.orders, policy.tolerances, as_of_ns),
    ]
    for kind, mine, theirs in (
        (BreakClass.POSITION_DRIFT, ledger.positions, venue.positions),
        (BreakClass.BALANCE_DRIFT, ledger.balances, venue.balances),
        (BreakClass.FUNDING, ledger.funding, venue.funding),
    ):
        found = _amounts(kind, mine, theirs, policy, as_of_ns)
        if found is not None:
            parts.append(found)
    return combine(parts)
