"""The execution simulator: target positions → orders → fills, for one symbol, vectorised.

Timing. Bar ``j`` covers ``[ts_j, ts_j + step)``. At the close of bar ``j - 1`` (``data_time
= ts_j``) the strategy decides a target; the order leaves after the tick-to-order latency
(``decision_time``) and reaches the venue after the order-to-venue latency (``arrival_time``),
both drawn from a seeded distribution (:mod:`.features`). It executes in bar ``j``.

Prices. The decision price is the mark (quoted mid, else close) at ``data_time``. The arrival
price is the quoted mid at ``arrival_time`` or, from candles, the bar's open moved towards its
close in proportion to the time elapsed in the bar. A market order fills at the arrival price
plus half the spread plus square-root impact (:mod:`.impact`) and pays the taker fee. A limit
order rests at the touch of the decision time (the mark minus/plus half the spread), fills at
that price only if the bar trades through it (low below a buy, high above a sell) and pays
the maker fee.

Sizing. A target fraction ``f`` of the allocation ``A`` becomes ``f * A / price`` base units,
with ``price`` the decision price of the bar where ``f`` last changed: units are held while
the strategy holds its fraction, so prices drifting do not cause trades.

Participation cap and carry. At most ``participation * V_j`` fills in bar ``j``. The rest of
the order is cancelled at the end of the bar, and the next order is again "target minus
position": what is missing is re-sent, re-priced, bar after bar until the target is reached
or changes. That recursion, ``p_j = clip(T_j, p_{j-1} - cap_j, p_{j-1} + cap_j)``, is solved
by :func:`follow_targets` without a loop over bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stratops.model.strategy import HaltBehaviour
from stratops.paper.config import ExecutionConfig, OrderType
from stratops.paper.features import SymbolFeatures
from stratops.paper.impact import sqrt_impact
from stratops.paper.market import Quotes
from stratops.paper.marketdata.schema import FloatArray, Int64Array

NS_PER_MS = 1_000_000


def follow_targets(
    target: FloatArray, cap_buy: FloatArray, cap_sell: FloatArray, start: float
) -> FloatArray:
    """Positions that chase ``target`` with at most ``cap_buy``/``cap_sell`` traded per bar.

    Solves ``p_j = min(max(T_j, p_{j-1} - cap_sell_j), p_{j-1} + cap_buy_j)`` with
    ``p_{-1} = start``, exactly. Vectorised trick: start from ``p = T`` (every bar reaches
    its target), apply the recursion to every bar at once, then re-apply it only to bars whose
    predecessor changed, until nothing changes. Each pass settles at least one more bar of
    every catch-up episode, so the passes number the longest episode (a few bars when the
    allocation is small against the market's volume) and each pass is a numpy operation over
    the bars still moving. The fixed point is the unique solution of the recursion.

    Parameters
    ----------
    target
        Target quantity per bar.
    cap_buy, cap_sell
        Largest quantity that may be bought / sold in each bar (>= 0).
    start
        Position before the first bar.

    Returns
    -------
    ndarray
        Position at the end of each bar.
    """
    position = target.astype(np.float64, copy=True)
    if len(position) == 0:
        return position
    previous = np.r_[start, position[:-1]]
    candidate = np.minimum(np.maximum(target, previous - cap_sell), previous + cap_buy)
    changed = np.flatnonzero(candidate != position)
    position[changed] = candidate[changed]
    last = len(position) - 1
    while changed.size:
        successors = changed[changed < last] + 1
        previous_values = position[successors - 1]
        candidate = np.minimum(
            np.maximum(target[successors], previous_values - cap_sell[successors]),
            previous_values + cap_buy[successors],
        )
        moved = candidate != position[successors]
        changed = successors[moved]
        position[changed] = candidate[moved]
    return position


@dataclass(frozen=True)
class SymbolData:
    """One symbol of the replay as the simulator reads it (full length, never sliced)."""

    symbol: str
    step_ns: int
    ts: Int64Array
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    mark: FloatArray
    quotes: Quotes | None
    features: SymbolFeatures


@dataclass(frozen=True)
class SymbolState:
    """What carries from one chunk of bars to the next."""

    position: float
    fraction: float
    ref_price: float
    units: float
    mark: float


def initial_state(data: SymbolData) -> SymbolState:
    """Flat, no target, marked at the first bar."""
    return SymbolState(
        position=0.0, fraction=0.0, ref_price=float("nan"), units=0.0, mark=float(data.mark[0])
    )


@dataclass(frozen=True)
class BarRecords:
    """Everything that happened to one symbol in bars ``bar`` (arrays of equal length).

    ``fraction``/``target`` are what bar ``j`` pursued (decided at the close of ``j - 1``),
    ``position`` is the position at the close of ``j``, ``ordered`` the order sent for bar
    ``j`` (target minus position before it) and ``filled`` what filled in it.
    """

    bar: Int64Array
    fraction: FloatArray
    target: FloatArray
    position: FloatArray
    ordered: FloatArray
    filled: FloatArray
    data_time: Int64Array
    decision_time: Int64Array
    arrival_time: Int64Array
    decision_price: FloatArray
    arrival_price: FloatArray
    half_spread: FloatArray
    impact: FloatArray
    fill_price: FloatArray
    fee: FloatArray
    tick_to_order_ms: FloatArray
    order_to_venue_ms: FloatArray
    volume: FloatArray
    mark: FloatArray
    gross: FloatArray
    delay_cost: FloatArray
    spread_cost: FloatArray
    impact_cost: FloatArray
    funding: FloatArray
    net: FloatArray


def size_targets(
    fractions: FloatArray, marks: FloatArray, allocation: float, state: SymbolState
) -> tuple[FloatArray, FloatArray]:
    """Units for fractions decided at consecutive bars; and the reference price of each.

    A fraction is sized at the mark of the bar where it last changed (``state`` carries the
    fraction and price before the first bar).
    """
    previous = np.r_[state.fraction, fractions[:-1]]
    changed = fractions != previous
    ref = np.where(changed, marks, np.nan)
    ref[0] = marks[0] if changed[0] else state.ref_price
    filled_ref = _forward_fill(ref)
    units = np.where(
        fractions == 0, 0.0, fractions * allocation / np.where(fractions == 0, 1.0, filled_ref)
    )
    return units, filled_ref


def _forward_fill(values: FloatArray) -> FloatArray:
    valid = ~np.isnan(values)
    index = np.where(valid, np.arange(len(values)), 0)
    np.maximum.accumulate(index, out=index)
    return values[index]


def halted_targets(
    halt: HaltBehaviour | None,
    target: FloatArray,
    cap_buy: FloatArray,
    cap_sell: FloatArray,
    start: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Targets and participation caps of a halted deployment, for :func:`follow_targets`.

    ``flatten`` targets zero (the position is closed at market, within the participation cap,
    bar after bar); ``hold`` targets the position held (no order is sent); ``reduce_only``
    keeps the strategy's targets on the side of the position, with no capacity to trade away
    from zero, so the position can only shrink. None: not halted, unchanged.
    """
    if halt is None:
        return target, cap_buy, cap_sell
    if halt is HaltBehaviour.FLATTEN:
        return np.zeros_like(target), cap_buy, cap_sell
    if halt is HaltBehaviour.HOLD:
        return np.full_like(target, start), cap_buy, cap_sell
    side = np.sign(start)
    reduced = np.maximum(target * side, 0.0) * side
    return reduced, cap_buy * (side < 0), cap_sell * (side > 0)


def simulate_symbol(
    data: SymbolData,
    fractions: FloatArray,
    start: int,
    state: SymbolState,
    allocation: float,
    config: ExecutionConfig,
    halt: HaltBehaviour | None = None,
) -> tuple[BarRecords, SymbolState]:
    """Simulate bars ``[start, start + len(fractions))`` of one symbol.

    Parameters
    ----------
    data
        The symbol's replay.
    fractions
        Target fractions decided at the close of each of these bars (already within limits).
    start
        First bar of the chunk.
    state
        State after bar ``start - 1`` (:func:`initial_state` for bar 0).
    allocation
        Capital in quote currency that fractions refer to.
    config
        Execution settings.
    halt
        The halt in force for these bars (:func:`halted_targets`); the strategy's fractions
        still move its sizing state, so ``fraction`` records what it wanted.

    Returns
    -------
    tuple of (BarRecords, SymbolState)
        Records of the chunk's bars and the state after its last bar. Chunking does not
        change the result: simulating ``[0, n)`` at once or in pieces gives identical records.
    """
    stop = start + len(fractions)
    bars = np.arange(start, stop, dtype=np.int64)
    decided = np.maximum(bars - 1, 0)
    marks = data.mark[start:stop]
    units, ref = size_targets(fractions, marks, allocation, state)
    target = np.r_[state.units, units[:-1]]
    fraction = np.r_[state.fraction, fractions[:-1]]
    decision_price = np.r_[state.mark, marks[:-1]]
    volume = data.volume[start:stop]
    feats = data.features
    data_time = data.ts[start:stop]
    tick_ms = feats.tick_to_order_ms[decided]
    wire_ms = feats.order_to_venue_ms[decided]
    decision_time = data_time + np.round(tick_ms * NS_PER_MS).astype(np.int64)
    arrival_time = decision_time + np.round(wire_ms * NS_PER_MS).astype(np.int64)
    elapsed = np.minimum((arrival_time - data_time) / data.step_ns, 1.0)
    open_, close = data.open[start:stop], data.close[start:stop]
    arrival_price = open_ + (close - open_) * elapsed
    half_spread = feats.half_spread[decided]
    if data.quotes is not None and len(data.quotes.ts):
        quoted = data.quotes.mid_at(arrival_time)
        arrival_price = np.where(np.isfinite(quoted), quoted, arrival_price)
        at = decision_time if config.order_type is OrderType.LIMIT else arrival_time
        half_spread = np.where(np.isfinite(quoted), data.quotes.half_spread_at(at), half_spread)
    cap = config.participation * volume
    if config.order_type is OrderType.LIMIT:
        buy_limit = decision_price * (1.0 - half_spread)
        sell_limit = decision_price * (1.0 + half_spread)
        cap_buy = np.where(data.low[start:stop] < buy_limit, cap, 0.0)
        cap_sell = np.where(data.high[start:stop] > sell_limit, cap, 0.0)
    else:
        cap_buy = cap_sell = cap
    target, cap_buy, cap_sell = halted_targets(halt, target, cap_buy, cap_sell, state.position)
    position = follow_targets(target, cap_buy, cap_sell, state.position)
    before = np.r_[state.position, position[:-1]]
    if halt is HaltBehaviour.REDUCE_ONLY:  # an order never asks for more than the position
        target = np.clip(target, np.minimum(before, 0.0), np.maximum(before, 0.0))
    filled = position - before
    ordered = target - before
    side = np.sign(filled)
    if config.order_type is OrderType.LIMIT:
        impact = np.zeros_like(filled)
        fill_price = np.where(side > 0, buy_limit, sell_limit)
        fee_bps = config.maker_fee_bps
        delay_cost = np.zeros_like(filled)
        spread_cost = -np.abs(filled) * decision_price * half_spread
    else:
        impact = sqrt_impact(filled, volume, feats.volatility[decided], config.impact_coefficient)
        fill_price = arrival_price * (1.0 + side * (half_spread + impact))
        fee_bps = config.taker_fee_bps
        delay_cost = filled * (arrival_price - decision_price)
        spread_cost = np.abs(filled) * arrival_price * half_spread
    impact_cost = np.abs(filled) * arrival_price * impact
    fee = np.abs(filled) * fill_price * fee_bps / 1e4
    previous_mark = np.r_[state.mark, marks[:-1]]
    gross = before * (marks - previous_mark) + filled * (marks - decision_price)
    funding = np.zeros_like(filled)
    net = gross - delay_cost - spread_cost - impact_cost - fee - funding
    records = BarRecords(
        bar=bars,
        fraction=fraction,
        target=target,
        position=position,
        ordered=ordered,
        filled=filled,
        data_time=data_time,
        decision_time=decision_time,
        arrival_time=arrival_time,
        decision_price=decision_price,
        arrival_price=arrival_price,
        half_spread=half_spread,
        impact=impact,
        fill_price=fill_price,
        fee=fee,
        tick_to_order_ms=tick_ms,
        order_to_venue_ms=wire_ms,
        volume=volume,
        mark=marks,
        gross=gross,
        delay_cost=delay_cost,
        spread_cost=spread_cost,
        impact_cost=impact_cost,
        funding=funding,
        net=net,
    )
    new_state = SymbolState(
        position=float(position[-1]),
        fraction=float(fractions[-1]),
        ref_price=float(ref[-1]),
        units=float(units[-1]),
        mark=float(marks[-1]),
    )
    return records, new_state


def mids_after(
    times: Int64Array, horizons_ns: tuple[int, ...], data: SymbolData, until_ns: int
) -> FloatArray:
    """Mid price ``h`` after each time, for each horizon: the markout reference.

    The mid is the last quote at or before ``t + h`` where quotes exist, else the mark of the
    last bar closed by ``t + h``. NaN when ``t + h`` is after ``until_ns`` (data not yet seen,
    or past the end of the replay).

    Returns
    -------
    ndarray
        Shape (len(times), len(horizons_ns)).
    """
    out = np.full((len(times), len(horizons_ns)), np.nan)
    close_ts = data.ts + data.step_ns
    for column, horizon in enumerate(horizons_ns):
        at = times + horizon
        if data.quotes is not None and len(data.quotes.ts):
            mid = data.quotes.mid_at(at)
        else:
            index = np.searchsorted(close_ts, at, side="right") - 1
            mid = np.where(index >= 0, data.mark[np.maximum(index, 0)], np.nan)
        out[:, column] = np.where(at <= until_ns, mid, np.nan)
    return out


def markout_bps(side: FloatArray, price: FloatArray, mid_after: FloatArray) -> FloatArray:
    """Signed markout in basis points: ``side * (mid_after - price) / price * 1e4``.

    Positive when the market moved the fill's way (a buy followed by a higher mid), negative
    for adverse selection.
    """
    return side * (mid_after - price) / price * 1e4
