"""Column names of the normalised market-data frames and the units they carry."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

NS_PER_SECOND: Final = 1_000_000_000

BAR_COLUMNS: Final = ("ts", "symbol", "open", "high", "low", "close", "volume", "synthetic")
PRICE_COLUMNS: Final = ("open", "high", "low", "close")
QUOTE_COLUMNS: Final = ("ts", "symbol", "bid", "ask", "bid_size", "ask_size")
TRADE_COLUMNS: Final = ("ts", "symbol", "price", "qty", "side", "exchange_ts")

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_UNIT_SUFFIX: Final = {"s": NS_PER_SECOND, "m": 60 * NS_PER_SECOND, "h": 3600 * NS_PER_SECOND}


def format_step(step_ns: int) -> str:
    """The shortest label of a bar size: ``60_000_000_000`` is ``1m``.

    Parameters
    ----------
    step_ns
        Bar size in nanoseconds, a whole number of seconds.

    Returns
    -------
    str
        ``<n>h``, ``<n>m`` or ``<n>s``.
    """
    for unit in ("h", "m", "s"):
        size = _UNIT_SUFFIX[unit]
        if step_ns % size == 0:
            return f"{step_ns // size}{unit}"
    raise ValueError(f"bar size {step_ns} ns is not a whole number of seconds")


def iso_utc(ts_ns: int) -> str:
    """ISO 8601 UTC text of a nanosecond timestamp, e.g. ``2024-08-05T00:00:00Z``."""
    text = np.datetime_as_string(np.datetime64(int(ts_ns), "ns"), unit="s")
    return f"{text}Z"
