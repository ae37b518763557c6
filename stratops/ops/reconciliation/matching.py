"""Match the ledger's fills with the venue's, vectorised: keys first, then tolerances.

1. Duplicates: a fill recorded twice on one side (the same trade id, or without one the same
   order, time, symbol, side, quantity and price) is a ``duplicate``; its copies take no part
   in matching.
2. Venue trade id, where both sides know it.
3. Client order id: the fills of one order, in time order, pair up one to one when both sides
   hold as many fills of it.
4. The rest on (symbol, side) and the nearest time within ``matchWindow``, accepted when
   quantity and price agree within their tolerances (and the orders, where both have one, are
   the same); each venue fill pairs at most once, with the nearest ledger fill.

Matched pairs are compared: the signed quantity (``quantity``), the price (``price``), the fee
asset, then the fee amount (``fee``). A ledger fill left over is ``missing_external``; a venue
fill left over is ``external_activity`` when it is a liquidation or belongs to no order the
ledger knows (a manual trade), else ``missing_internal``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from stratops.model.base import duration_seconds
from stratops.model.reconciliation import BreakClass, Tolerance, Tolerances
from stratops.ops.reconciliation.breaks import combine, make_breaks
from stratops.ops.reconciliation.frames import LIQUIDATION, NO_KEY, check_fills

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class Side:
    """One side's fills as arrays (the frame keeps the text columns)."""

    frame: pd.DataFrame
    ts: Ints
    signed: Floats
    price: Floats
    fee: Floats
    order: Ints
    trade: Ints

    @property
    def size(self) -> int:
        return len(self.ts)

    def text(self, column: str, rows: Ints) -> npt.NDArray[np.object_]:
        """A text column at ``rows``, as Python objects (None where missing)."""
        taken = self.frame[column].take(rows)
        return np.asarray(taken.astype(object).where(taken.notna(), None), dtype=object)


def _side(frame: pd.DataFrame) -> Side:
    buy = (frame["side"] == "buy").to_numpy(np.bool_)
    return Side(
        frame=frame,
        ts=frame["ts"].to_numpy(np.int64),
        signed=np.where(buy, 1.0, -1.0) * frame["quantity"].to_numpy(np.float64),
        price=frame["price"].to_numpy(np.float64),
        fee=frame["fee"].to_numpy(np.float64),
        order=frame["order_key"].to_numpy(np.int64),
        trade=frame["trade_key"].to_numpy(np.int64),
    )


def _symbol_codes(left: Side, lrows: Ints, right: Side, rrows: Ints) -> tuple[Ints, Ints]:
    both = np.concatenate([left.text("symbol", lrows), right.text("symbol", rrows)])
    codes = pd.factorize(both)[0].astype(np.int64)
    return codes[: lrows.size], codes[lrows.size :]


def _copies(keys: Ints) -> Bools:
    """Where a key repeats an earlier one (stable sort: fast on the usual sorted keys)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeat = np.zeros(keys.size, dtype=np.bool_)
    repeat[order[1:]] = ordered[1:] == ordered[:-1]
    return repeat


def duplicated(side: Side) -> Bools:
    """Copies after the first: by trade id where known, else by every field of the fill.

    Without a trade id only fills at the same time can be copies: those few are compared in
    full.
    """
    by_trade = side.trade != NO_KEY
    copies = np.zeros(side.size, dtype=np.bool_)
    rows = np.flatnonzero(by_trade)
    copies[rows] = _copies(side.trade[rows])
    rest = np.flatnonzero(~by_trade)
    order = rest[np.argsort(side.ts[rest], kind="stable")]
    same = side.ts[order[1:]] == side.ts[order[:-1]]
    suspects = np.unique(np.concatenate([order[1:][same], order[:-1][same]]))
    if suspects.size:
        fields = pd.DataFrame(
            {
                "ts": side.ts[suspects],
                "symbol": side.text("symbol", suspects),
                "signed": side.signed[suspects],
                "price": side.price[suspects],
                "order": side.order[suspects],
            }
        )
        copies[suspects] = fields.duplicated().to_numpy()
    return copies


def _join(left: Ints, right: Ints) -> tuple[Ints, Ints]:
    """Positions of equal keys, right's keys unique: (positions in left, in right)."""
    if not len(left) or not len(right):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(right, kind="stable")
    sorted_keys = right[order]
    at = np.minimum(np.searchsorted(sorted_keys, left), len(sorted_keys) - 1)
    hit = sorted_keys[at] == left
    return np.flatnonzero(hit), order[at[hit]]


def _by_trade(ledger: Side, venue: Side, lfree: Bools, vfree: Bools) -> tuple[Ints, Ints]:
    lrows = np.flatnonzero(lfree & (ledger.trade != NO_KEY))
    vrows = np.flatnonzero(vfree & (venue.trade != NO_KEY))
    li, vi = _join(ledger.trade[lrows], venue.trade[vrows])
    return lrows[li], vrows[vi]


def _ranks(order: Ints, ts: Ints) -> tuple[Ints, Ints, Ints]:
    """Positions sorted by (order, ts), each one's rank in its order and its order's size."""
    sort = np.lexsort((ts, order))
    keys = order[sort]
    count = len(keys)
    starts = np.r_[True, keys[1:] != keys[:-1]] if count else np.zeros(0, dtype=np.bool_)
    index = np.arange(count)
    first = np.maximum.accumulate(np.where(starts, index, 0)) if count else index
    bounds = np.r_[np.flatnonzero(starts), count]
    sizes = np.repeat(np.diff(bounds), np.diff(bounds))
    return sort, index - first, sizes


def _composite(order: Ints, rank: Ints, other: Ints, span: int) -> Ints:
    """One int64 key for (order, rank): the order's dense code times ``span`` plus the rank."""
    low = int(min(order.min(initial=0), other.min(initial=0)))
    high = int(max(order.max(initial=0), other.max(initial=0)))
    if (high - low + 1) * span < 2**62:
        return (order - low) * span + rank
    codes = np.searchsorted(np.unique(np.concatenate([order, other])), order)
    return codes.astype(np.int64) * span + rank


def _by_order(ledger: Side, venue: Side, lfree: Bools, vfree: Bools) -> tuple[Ints, Ints]:
    lrows = np.flatnonzero(lfree & (ledger.order != NO_KEY))
    vrows = np.flatnonzero(vfree & (venue.order != NO_KEY))
    if not lrows.size or not vrows.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lsort, lrank, lsize = _ranks(ledger.order[lrows], ledger.ts[lrows])
    vsort, vrank, vsize = _ranks(venue.order[vrows], venue.ts[vrows])
    lrows, vrows = lrows[lsort], vrows[vsort]
    span = int(max(lrank.max(initial=0), vrank.max(initial=0))) + 1
    lorder, vorder = ledger.order[lrows], venue.order[vrows]
    li, vi = _join(_composite(lorder, lrank, vorder, span), _composite(vorder, vrank, lorder, span))
    same = lsize[li] == vsize[vi]
    return lrows[li[same]], vrows[vi[same]]


def _within(a: Floats, b: Floats, tolerance: Tolerance) -> Bools:
    return np.abs(a - b) <= tolerance.absolute + tolerance.relative * np.abs(b)


def _price_within(a: Floats, b: Floats, bps: float) -> Bools:
    return np.abs(a - b) <= bps * 1e-4 * np.abs(b) + 1e-12


def _nearest(
    ledger: Side, venue: Side, lfree: Bools, vfree: Bools, tolerances: Tolerances
) -> tuple[Ints, Ints]:
    lrows, vrows = np.flatnonzero(lfree), np.flatnonzero(vfree)
    if not lrows.size or not vrows.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    window = int(duration_seconds(tolerances.match_window) * NS_PER_SECOND)

    lcodes, vcodes = _symbol_codes(ledger, lrows, venue, vrows)

    def table(side: Side, rows: Ints, codes: Ints) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ts": side.ts[rows],
                "symbol": codes,
                "buy": side.signed[rows] > 0,
                "row": rows,
                "vts": side.ts[rows],
            }
        ).sort_values("ts", kind="stable")

    pairs = pd.merge_asof(
        table(ledger, lrows, lcodes),
        table(venue, vrows, vcodes),
        on="ts",
        by=["symbol", "buy"],
        tolerance=window,
        direction="nearest",
        suffixes=("_l", "_v"),
    ).dropna(subset=["row_v"])
    li = pairs["row_l"].to_numpy(np.int64)
    vi = pairs["row_v"].to_numpy(np.int64)
    lo, vo = ledger.order[li], venue.order[vi]
    ok = (
        _within(np.abs(ledger.signed[li]), np.abs(venue.signed[vi]), tolerances.quantity)
        & _price_within(ledger.price[li], venue.price[vi], tolerances.price_bps)
        & ((lo == vo) | (lo == NO_KEY) | (vo == NO_KEY))
    )
    li, vi = li[ok], vi[ok]
    distance = np.abs(ledger.ts[li] - venue.ts[vi])
    first = np.lexsort((li, distance))
    _, keep = np.unique(vi[first], return_index=True)
    chosen = first[keep]
    return li[chosen], vi[chosen]


def _compare(ledger: Side, venue: Side, li: Ints, vi: Ints, tol: Tolerances) -> list[pd.DataFrame]:
    """Breaks of matched pairs: quantity, price, fee (asset, then amount)."""
    found = []
    lq, vq = ledger.signed[li], venue.signed[vi]
    lp, vp = ledger.price[li], venue.price[vi]
    lf, vf = ledger.fee[li], venue.fee[vi]
    lasset = ledger.frame["fee_asset"].take(li).reset_index(drop=True)
    vasset = venue.frame["fee_asset"].take(vi).reset_index(drop=True)
    asset = (lasset.notna() & vasset.notna() & (lasset != vasset)).to_numpy(np.bool_)
    amount = ~asset & np.isfinite(lf) & np.isfinite(vf) & ~_within(lf, vf, tol.fee)
    checks = (
        (BreakClass.QUANTITY, ~_within(lq, vq, tol.quantity), lq, vq, "signed quantity"),
        (BreakClass.PRICE, ~_price_within(lp, vp, tol.price_bps), lp, vp, "price"),
        (BreakClass.FEE, asset, lf, vf, None),
        (BreakClass.FEE, amount, lf, vf, "fee amount"),
    )
    for kind, bad, lvalue, vvalue, detail in checks:
        at = np.flatnonzero(bad)
        if not at.size:
            continue
        if detail is None:
            mine = pd.Series(ledger.text("fee_asset", li[at]), dtype=object).astype(str)
            theirs = pd.Series(venue.text("fee_asset", vi[at]), dtype=object).astype(str)
            text = ("fee asset " + mine + " vs " + theirs).to_numpy(object)
        else:
            text = np.full(at.size, detail, dtype=object)
        found.append(
            make_breaks(
                kind,
                "both",
                symbol=ledger.text("symbol", li[at]),
                ts=ledger.ts[li[at]],
                order_key=ledger.order[li[at]],
                trade_key=venue.trade[vi[at]],
                ledger=lvalue[at],
                venue=vvalue[at],
                detail=text,
            )
        )
    return found


def _side_breaks(
    kind: BreakClass, source: str, side: Side, rows: Ints, detail: object
) -> pd.DataFrame:
    return make_breaks(
        kind,
        source,
        symbol=side.text("symbol", rows),
        ts=side.ts[rows],
        order_key=side.order[rows],
        trade_key=side.trade[rows],
        ledger=np.abs(side.signed[rows]) if source == "ledger" else np.nan,
        venue=np.abs(side.signed[rows]) if source == "venue" else np.nan,
        detail=detail,
    )


def match_fills(
    ledger: pd.DataFrame,
    venue: pd.DataFrame,
    tolerances: Tolerances,
    known_orders: Ints,
) -> pd.DataFrame:
    """The breaks between the ledger's and the venue's fills (:mod:`.breaks` columns).

    Parameters
    ----------
    ledger, venue
        Fills frames (:mod:`.frames`).
    tolerances
        From the ``ReconciliationPolicy``.
    known_orders
        Client order ids the deployment sent (its orders); a venue fill of another order, or
        of none, is activity the deployment did not cause.
    """
    check_fills(ledger, "ledger")
    check_fills(venue, "venue")
    lside, vside = _side(ledger), _side(venue)
    ldup, vdup = duplicated(lside), duplicated(vside)
    lfree, vfree = ~ldup, ~vdup
    pairs_l, pairs_v = [], []
    for stage in (_by_trade, _by_order):
        li, vi = stage(lside, vside, lfree, vfree)
        lfree[li] = False
        vfree[vi] = False
        pairs_l.append(li)
        pairs_v.append(vi)
    li, vi = _nearest(lside, vside, lfree, vfree, tolerances)
    lfree[li] = False
    vfree[vi] = False
    matched_l, matched_v = np.concatenate([*pairs_l, li]), np.concatenate([*pairs_v, vi])
    found = _compare(lside, vside, matched_l, matched_v, tolerances)
    found.append(_side_breaks(BreakClass.DUPLICATE, "ledger", lside, np.flatnonzero(ldup), "copy"))
    found.append(_side_breaks(BreakClass.DUPLICATE, "venue", vside, np.flatnonzero(vdup), "copy"))
    found.append(
        _side_breaks(
            BreakClass.MISSING_EXTERNAL, "ledger", lside, np.flatnonzero(lfree), "not at venue"
        )
    )
    left = np.flatnonzero(vfree)
    forced = vside.text("activity", left) == LIQUIDATION
    foreign = (vside.order[left] == NO_KEY) | ~np.isin(vside.order[left], known_orders)
    outside = forced | foreign
    detail = np.where(forced, "liquidation", "manual trade")
    found.append(
        _side_breaks(BreakClass.EXTERNAL_ACTIVITY, "venue", vside, left[outside], detail[outside])
    )
    found.append(
        _side_breaks(BreakClass.MISSING_INTERNAL, "venue", vside, left[~outside], "not in ledger")
    )
    return combine(found)
