"""PnL attribution: the ledger's PnL split into paper alpha and the costs of getting it.

Plain, vectorised functions over telemetry frames. No I/O, no state, no adapter.

The split
---------
The book is marked at the end of every *period* (a row of the ``positions`` table: a bar of
the paper engine). In period ``j`` of a symbol, with ``m_j`` its mark, ``x_j`` the position at
its end and ``f_j`` the signed quantity filled in it, the ledger's PnL is

.. math::
    PnL_j = (x_j - f_j)(m_j - m_{j-1}) + \\sum_i f_i (m_j - p_i) - fees_j + funding_j

Perold's paper portfolio fills every order of the period in full at its decision mid and is
marked at the same end (the period's end price). Per order, with ``D`` its side, ``Q`` its
quantity and the shortfall of :func:`stratops.analytics.tca.shortfall_table` (end price
``m_j``):

.. math::
    PnL_j = \\underbrace{(x_j - f_j)(m_j - m_{j-1}) + \\sum_o D_o Q_o (m_j - P^{dec}_o)}_{alpha}
            - delay - spread - impact - opportunity - fees + funding

an identity (expand the shortfall's terms), so the parts add up to the ledger to rounding.
``trading`` of the shortfall (``D * sum q_i (p_i - P_arrival)``) is split at the touch:

spread
    ``s * q * P_arrival * half_spread_bps / 1e4`` per fill, ``s = +1`` for a taker (it paid
    half the spread) and ``-1`` for a maker (it earned it); the half spread is the fill's
    ``half_spread_bps`` (quoted where quotes were captured, else the candle estimate).
impact
    ``trading - spread``: what the fills paid beyond the touch (the square-root impact of the
    paper engine's market orders; for a resting order, the move from its arrival to its price).

Funding of a perpetual: a settlement at ``t`` with rate ``r`` charges ``-x * mark * r`` (a
long pays a positive rate), booked in the period containing ``t`` (the first ending at or
after it). ``x`` is the position held at ``t``: the period's end position if ``t`` is its end,
else the position it started with (exact when the period's fills come after the settlement:
venues settle on the hour, a few ms after a bar opens and before an order decided at its open
arrives). ``mark`` is the settlement's ``mark_price`` if given, else the period's mark.

Conventions
-----------
Sign
    Every part is a *PnL contribution*: positive made money, negative lost it (costs are
    negative, the opposite sign of :mod:`stratops.analytics.tca`'s costs). Quote currency.
Time
    A period is stamped with its end (``positions.ts``) and belongs, for ``day`` and
    ``hour_of_week``, to the day and hour of its last instant (a bar ending 00:00 is the
    previous day's). An order belongs to the first period of its symbol ending after its
    ``decision_time``.
Groups
    :func:`aggregate_attribution` groups by any of :data:`stratops.analytics.tca.GROUP_KEYS`
    (strategy, symbol, day, regime, hour_of_week); the regime is the liquidity regime of
    :func:`stratops.analytics.regimes.classify`.

NaN policy
----------
* An order whose period is not among the positions (outside the window) is left out, with
  its fills; ``frame.attrs["orders_outside"]`` counts them.
* A fill without a half spread (NaN) has no spread part: its trading cost is all impact.
* The first period of a symbol that opened with a position has no previous mark: its holding
  alpha (and PnL) is NaN; a book that starts flat has none (an opening position within
  :data:`FLAT_TOLERANCE` of the period's traded quantity is rounding, and flat).
* A funding settlement after the symbol's last period is left out; one before its first
  period is booked in the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from stratops.analytics.regimes import (
    NS_PER_HOUR,
    HourOfWeekProfile,
    RegimeRules,
    classify,
    hour_of_week,
)
from stratops.analytics.tca import BPS, GROUP_KEYS, shortfall_table, side_sign

__all__ = [
    "COSTS",
    "FLAT_TOLERANCE",
    "PARTS",
    "aggregate_attribution",
    "attribute",
    "order_periods",
]

COSTS: Final = ("delay", "spread", "impact", "opportunity", "fees", "funding")
"""The execution and carry parts, in the order a waterfall walks them."""
PARTS: Final = ("alpha", *COSTS)
"""Every part; their sum is the ``pnl`` column."""

FLAT_TOLERANCE: Final = 1e-9
"""A first period's opening position within this fraction of its traded quantity is flat."""

_POSITION_COLUMNS: Final = ("ts", "symbol", "position", "mark_price")
_ORDER_COLUMNS: Final = ("order_id", "symbol", "side", "quantity", "decision_time")
_FUNDING_COLUMNS: Final = ("ts", "symbol", "rate")


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; see attribute's docstring")


def _ns(values: pd.Series) -> NDArray[np.int64]:
    return np.asarray(
        pd.DatetimeIndex(pd.to_datetime(values, utc=True)).as_unit("ns").asi8, dtype=np.int64
    )


def _codes(values: pd.Series, categories: pd.Index) -> NDArray[np.intp]:
    """Position of each value in ``categories`` (-1 if absent), hashing the few distinct ones."""
    codes, uniques = pd.factorize(values)
    where = np.append(categories.get_indexer(uniques), -1)  # code -1 (a missing value): -1
    return np.asarray(where[codes], dtype=np.intp)


class _Periods:
    """The positions sorted by (symbol, ts), with one sortable int64 key per (symbol, time).

    ``key = code * (span + 2) + (ts - origin + 1)``: the periods' offsets lie in ``1..span``,
    so a time clipped to ``0..span + 1`` (before or after every period) never meets another
    symbol's keys.
    """

    def __init__(self, positions: pd.DataFrame) -> None:
        _require(positions, _POSITION_COLUMNS, "positions")
        frame = positions.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
        self.frame = frame
        self.symbols = pd.Index(sorted(frame["symbol"].unique()))
        self.code = _codes(frame["symbol"], self.symbols)
        self.ts = _ns(frame["ts"])
        self.origin = int(self.ts.min()) if self.ts.size else 0
        self.span = int(self.ts.max()) - self.origin + 1 if self.ts.size else 1
        self.key = self._key(self.code, self.ts)
        self.first = np.r_[True, self.code[1:] != self.code[:-1]][: self.ts.size]

    def _key(self, code: NDArray[np.intp], times: NDArray[np.int64]) -> NDArray[np.int64]:
        offset = np.clip(times - self.origin + 1, 0, self.span + 1)
        return np.asarray(code.astype(np.int64) * (self.span + 2) + offset, dtype=np.int64)

    def find(
        self, symbols: pd.Series, times: NDArray[np.int64], side: Literal["left", "right"]
    ) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """The first period of each symbol ending after (``right``) or at/after (``left``)
        each time: its row, and whether there is one."""
        code = _codes(symbols, self.symbols)
        if self.key.size == 0:
            return np.zeros(code.size, dtype=np.intp), np.zeros(code.size, dtype=bool)
        index = np.searchsorted(self.key, self._key(code, times), side=side)
        safe = np.minimum(index, self.key.size - 1)
        found = (code >= 0) & (index < self.key.size) & (self.code[safe] == code)
        return safe, found


def order_periods(orders: pd.DataFrame, positions: pd.DataFrame) -> pd.DataFrame:
    """Orders with the period they belong to and the price that ends it.

    Parameters
    ----------
    orders
        Telemetry orders: ``order_id``, ``symbol``, ``side``, ``quantity``,
        ``decision_time`` and the shortfall's prices (see
        :func:`stratops.analytics.tca.shortfall_table`).
    positions
        Telemetry positions: ``ts`` (period end), ``symbol``, ``position``, ``mark_price``.

    Returns
    -------
    pandas.DataFrame
        The orders that fall in a period (same order as given), plus ``period`` (the end of
        the first period of their symbol ending after ``decision_time``, UTC) and
        ``end_price`` (its mark: what prices an unfilled remainder). ``attrs["outside"]``
        counts the orders left out.
    """
    _require(orders, _ORDER_COLUMNS, "orders")
    periods = _Periods(positions)
    row, found = periods.find(orders["symbol"], _ns(orders["decision_time"]), "right")
    inside = bool(found.all())
    row = row if inside else row[found]
    kept = (orders if inside else orders[found]).assign(
        period=periods.frame["ts"].array[row],
        end_price=periods.frame["mark_price"].to_numpy(np.float64)[row],
        _row=row,
    )
    kept.attrs["outside"] = int(found.size - found.sum())
    return kept


def attribute(
    orders: pd.DataFrame,
    fills: pd.DataFrame,
    positions: pd.DataFrame,
    *,
    funding: pd.DataFrame | None = None,
    strategy: str = "",
) -> pd.DataFrame:
    """PnL of every period and symbol split into :data:`PARTS`.

    Parameters
    ----------
    orders
        Telemetry orders (``order_id``, ``symbol``, ``side``, ``quantity``,
        ``decision_time``, ``decision_price``, ``arrival_price``).
    fills
        Telemetry fills (``order_id``, ``quantity``, ``price``; ``fee``,
        ``half_spread_bps`` and ``liquidity`` (``taker``/``maker``) where known).
    positions
        Telemetry positions: one row per period and symbol (``ts`` its end, ``symbol``,
        ``position`` at the end, ``mark_price``). They define the periods.
    funding
        Perpetual funding settlements: ``ts``, ``symbol`` (as in positions), ``rate`` (per
        settlement, a fraction), optional ``mark_price``. None: no funding (spot).
    strategy
        Name put in the ``strategy`` column (to group several strategies' tables).

    Returns
    -------
    pandas.DataFrame
        One row per period and symbol, sorted by ``ts`` then ``symbol``: ``ts``, ``symbol``,
        ``strategy``, the :data:`PARTS` and ``pnl`` (their sum), quote currency, PnL sign.
        ``attrs["orders_outside"]`` counts orders outside the periods (module docstring).
    """
    periods = _Periods(positions)
    frame = periods.frame
    n = len(frame)
    priced = order_periods(orders, positions)
    table = shortfall_table(priced, fills)
    row = table["_row"].to_numpy(np.intp)
    d = side_sign(table["side"]) if len(table) else np.zeros(0)
    qty = table["quantity"].to_numpy(np.float64)
    end = table["end_price"].to_numpy(np.float64)
    alpha_orders = d * qty * (end - table["decision_price"].to_numpy(np.float64))
    spread = _spread_per_order(table, fills)

    def per_row(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(np.bincount(row, weights=values, minlength=n), dtype=np.float64)

    trading = table["trading"].to_numpy(np.float64)
    filled = per_row(d * table["filled_quantity"].to_numpy(np.float64))
    marks = frame["mark_price"].to_numpy(np.float64)
    position = frame["position"].to_numpy(np.float64)
    # the position a period starts with: the previous period's end, or (a symbol's first
    # period) its end less its fills, where rounding is not a position
    opened = position - filled
    opened[np.abs(opened) <= FLAT_TOLERANCE * (np.abs(position) + np.abs(filled))] = 0.0
    before = np.where(periods.first, opened, np.r_[0.0, position[:-1]][:n])
    previous = np.where(periods.first, np.nan, np.r_[np.nan, marks[:-1]][:n])
    holding = np.where(before == 0, 0.0, before * (marks - previous))
    out = pd.DataFrame(
        {
            "ts": frame["ts"].array,
            "symbol": frame["symbol"].to_numpy(),
            "strategy": strategy,
            "alpha": holding + per_row(alpha_orders),
            "delay": -per_row(table["delay"].to_numpy(np.float64)),
            "spread": -per_row(spread),
            "impact": -per_row(trading - spread),
            "opportunity": -per_row(table["opportunity"].to_numpy(np.float64)),
            "fees": -per_row(table["fees"].to_numpy(np.float64)),
            "funding": _funding(periods, before, funding),
        }
    )
    out["pnl"] = out[list(PARTS)].sum(axis=1, skipna=False)
    out = out.sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True)
    out.attrs["orders_outside"] = priced.attrs["outside"]
    return out


def _spread_per_order(table: pd.DataFrame, fills: pd.DataFrame) -> NDArray[np.float64]:
    """Sum over each order's fills of ``s * q * P_arrival * half_spread`` (module docstring)."""
    n = len(table)
    if n == 0 or "half_spread_bps" not in fills.columns:
        return np.zeros(n)
    codes = pd.Index(table["order_id"]).get_indexer(fills["order_id"])
    q = fills["quantity"].to_numpy(np.float64)
    ok = (codes >= 0) & np.isfinite(q) & np.isfinite(fills["price"].to_numpy(np.float64))
    half = np.nan_to_num(fills["half_spread_bps"].to_numpy(np.float64)) / BPS
    maker = (
        fills["liquidity"].eq("maker").to_numpy(dtype=bool, na_value=False)
        if "liquidity" in fills.columns
        else np.zeros(len(fills), dtype=bool)
    )
    arrival = table["arrival_price"].to_numpy(np.float64)[np.maximum(codes, 0)]
    cost = np.where(maker, -1.0, 1.0) * q * arrival * half
    return np.asarray(np.bincount(codes[ok], weights=cost[ok], minlength=n), dtype=np.float64)


def _funding(
    periods: _Periods, before: NDArray[np.float64], funding: pd.DataFrame | None
) -> NDArray[np.float64]:
    """Funding of each period: settlements in it, on the position held then (module docstring)."""
    n = len(periods.frame)
    if funding is None or funding.empty or n == 0:
        return np.zeros(n)
    _require(funding, _FUNDING_COLUMNS, "funding")
    times = _ns(funding["ts"])
    row, found = periods.find(funding["symbol"], times, "left")
    at_end = periods.ts[row] == times
    position = np.where(at_end, periods.frame["position"].to_numpy(np.float64)[row], before[row])
    marks = periods.frame["mark_price"].to_numpy(np.float64)[row]
    if "mark_price" in funding.columns:
        given = funding["mark_price"].to_numpy(np.float64)
        marks = np.where(np.isfinite(given), given, marks)
    paid = -position * marks * funding["rate"].to_numpy(np.float64)
    return np.asarray(np.bincount(row[found], weights=paid[found], minlength=n), dtype=np.float64)


def aggregate_attribution(
    table: pd.DataFrame,
    by: Sequence[str],
    *,
    profile: HourOfWeekProfile | None = None,
    rules: RegimeRules | None = None,
) -> pd.DataFrame:
    """Sum the parts of :func:`attribute`'s table by groups.

    Parameters
    ----------
    table
        Output of :func:`attribute` (several concatenated, for several strategies).
    by
        A non-empty subset of :data:`~stratops.analytics.tca.GROUP_KEYS`. ``day`` and
        ``hour_of_week`` come from the periods' last instant; ``regime`` from
        :func:`~stratops.analytics.regimes.classify` with ``profile`` (required for it).
    profile, rules
        The hour-of-week profile and thresholds of the liquidity regime.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted: the keys, ``periods`` (rows summed), the :data:`PARTS`
        and ``pnl``.
    """
    unknown = [k for k in by if k not in GROUP_KEYS]
    if unknown or not by:
        raise ValueError(f"group by a non-empty subset of {GROUP_KEYS}; saw {list(by)}")
    frame = table.copy(deep=False)  # only the derived keys are added
    inside = _ns(frame["ts"]) - 1  # the period's last instant
    if "day" in by:
        frame["day"] = pd.DatetimeIndex(inside.view("datetime64[ns]"), tz="UTC").floor("D")
    if "regime" in by:
        if profile is None:
            raise ValueError("grouping by regime needs the hour-of-week profile (profile=...)")
        hours, where = np.unique(inside // NS_PER_HOUR, return_inverse=True)
        labels = classify(profile, hours * NS_PER_HOUR, rules=rules)["regime"].to_numpy()
        frame["regime"] = labels[where]
    if "hour_of_week" in by:
        frame["hour_of_week"] = hour_of_week(inside)
    columns = [*PARTS, "pnl"]
    grouped = frame.groupby(list(by), sort=True, observed=True)
    out = grouped[columns].sum(min_count=1)
    out.insert(0, "periods", grouped.size())
    return out.reset_index()
