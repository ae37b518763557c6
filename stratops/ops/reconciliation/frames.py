"""The frames both sides of a reconciliation are given as; both adapters produce them.

Fills: ``ts`` (int64 ns), ``symbol`` (``BASE/QUOTE``), ``side`` (buy, sell), ``quantity``
(> 0, base units), ``price``, ``fee`` (float, NaN when unknown), ``fee_asset`` (the fee's
currency, None when unknown), ``order_key`` (int64, the desk's client order id, -1 when none),
``trade_key`` (int64, the venue's trade id, -1 when the side does not know it) and
``activity`` (``trade``, or ``liquidation`` for a venue's forced trade).

Orders: ``order_key``, ``symbol``, ``status`` (ccxt's ``open``, ``closed``, ``canceled``),
``filled`` (base units). Amounts per symbol or asset (positions, balances, funding): a
float Series indexed by the symbol or the asset.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

FILL_COLUMNS: Final = (
    "ts",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "fee_asset",
    "order_key",
    "trade_key",
    "activity",
)
ORDER_COLUMNS: Final = ("order_key", "symbol", "status", "filled")
NO_KEY: Final = -1
TRADE: Final = "trade"
LIQUIDATION: Final = "liquidation"


def empty_fills() -> pd.DataFrame:
    """A fills frame without rows, with the columns' dtypes."""
    return pd.DataFrame(
        {
            "ts": np.zeros(0, np.int64),
            "symbol": np.zeros(0, object),
            "side": np.zeros(0, object),
            "quantity": np.zeros(0),
            "price": np.zeros(0),
            "fee": np.zeros(0),
            "fee_asset": np.zeros(0, object),
            "order_key": np.zeros(0, np.int64),
            "trade_key": np.zeros(0, np.int64),
            "activity": np.zeros(0, object),
        }
    )


def empty_orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_key": np.zeros(0, np.int64),
            "symbol": np.zeros(0, object),
            "status": np.zeros(0, object),
            "filled": np.zeros(0),
        }
    )


def amounts(values: dict[str, float] | None = None) -> pd.Series:
    """Amounts by symbol or asset as a float Series."""
    return pd.Series(values or {}, dtype=np.float64)


def check_fills(frame: pd.DataFrame, side: str) -> None:
    """Refuse a frame that lacks a column (a programming error of an adapter)."""
    missing = [c for c in FILL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{side} fills lack columns {', '.join(missing)}")
