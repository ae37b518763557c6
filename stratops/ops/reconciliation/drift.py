"""Breaks of amounts and order states: what the ledger and the venue hold, compared.

Positions per symbol (``position_drift``), balances per asset (``balance_drift``) and funding
per symbol (``funding``) are compared as totals within their tolerance; a name only one side
has counts as zero on the other. Orders are compared on status and filled quantity
(``order_state``) where both sides know the order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratops.model.reconciliation import BreakClass, Tolerance, Tolerances
from stratops.ops.reconciliation.breaks import make_breaks

# the paper and telemetry order statuses in ccxt's vocabulary; an unfilled rest is cancelled
LEDGER_STATUS = {
    "filled": "closed",
    "partial": "canceled",
    "unfilled": "canceled",
    "open": "open",
    "closed": "closed",
    "canceled": "canceled",
}


def compare_amounts(
    kind: BreakClass,
    ledger: pd.Series,
    venue: pd.Series,
    tolerance: Tolerance,
    as_of_ns: int,
) -> pd.DataFrame:
    """Breaks where the totals by name differ by more than ``tolerance``."""
    both = pd.concat([ledger.rename("ledger"), venue.rename("venue")], axis=1).fillna(0.0)
    both = both.sort_index()
    lvalue = both["ledger"].to_numpy(np.float64)
    vvalue = both["venue"].to_numpy(np.float64)
    bad = np.abs(lvalue - vvalue) > tolerance.absolute + tolerance.relative * np.abs(vvalue)
    return make_breaks(
        kind,
        "both",
        symbol=both.index.to_numpy(object)[bad],
        ts=as_of_ns,
        ledger=lvalue[bad],
        venue=vvalue[bad],
        detail=f"{kind.value.replace('_', ' ')} differs",
    )


def compare_orders(
    ledger: pd.DataFrame, venue: pd.DataFrame, tolerances: Tolerances, as_of_ns: int
) -> pd.DataFrame:
    """``order_state`` breaks: orders both sides know whose status or filled quantity differ."""
    pairs = ledger.merge(venue, on="order_key", suffixes=("_l", "_v"))
    status_l = pairs["status_l"].map(LEDGER_STATUS).fillna(pairs["status_l"]).to_numpy(object)
    status_v = pairs["status_v"].to_numpy(object)
    filled_l = pairs["filled_l"].to_numpy(np.float64)
    filled_v = pairs["filled_v"].to_numpy(np.float64)
    quantity = tolerances.quantity
    off = np.abs(filled_l - filled_v) > quantity.absolute + quantity.relative * np.abs(filled_v)
    bad = (status_l != status_v) | off
    detail = (
        "status "
        + pd.Series(status_l[bad], dtype=object).astype(str)
        + " vs "
        + pd.Series(status_v[bad], dtype=object).astype(str)
    )
    return make_breaks(
        BreakClass.ORDER_STATE,
        "both",
        symbol=pairs["symbol_l"].to_numpy(object)[bad],
        ts=as_of_ns,
        order_key=pairs["order_key"].to_numpy(np.int64)[bad],
        ledger=filled_l[bad],
        venue=filled_v[bad],
        detail=detail.to_numpy(object),
    )
