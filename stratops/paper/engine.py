"""The engine: one code path for backtests and paper trading.

A :class:`Session` owns the state of a run and advances it chunk by chunk: reveal bars up to
``stop`` to the strategy (all bars from the replay's start, so the strategy sees exactly what
a backtest shows it), clip the targets to the risk limit, and simulate the new bars of every
symbol (:func:`stratops.paper.execution.simulate_symbol`). ``backtest`` is one chunk of every
bar, as fast as possible; ``paper`` is chunks paced by a clock at ``speed`` times real time.
Simulating in chunks gives the same records as simulating at once, so the two modes agree
fill for fill — and a strategy that peeks at future rows is caught, because in paper mode
those rows do not exist yet. A session can also start from a checkpoint (:meth:`Session.resume`:
the bar it stopped at and each symbol's state) and carry on as if it had never stopped.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from stratops.model.strategy import HaltBehaviour
from stratops.paper.clock import Clock
from stratops.paper.config import EngineConfig, OrderType
from stratops.paper.errors import ConfigError, StrategyError
from stratops.paper.execution import (
    BarRecords,
    SymbolData,
    SymbolState,
    initial_state,
    simulate_symbol,
)
from stratops.paper.features import symbol_features
from stratops.paper.market import Market
from stratops.paper.marketdata.schema import NS_PER_SECOND, FloatArray, Int64Array
from stratops.paper.strategy import apply_limits
from stratops.paper.telemetry import RiskEvents, build_tables, concat_records, risk_events


@dataclass(frozen=True)
class Portfolio:
    """Per-bar returns of a run as fractions of the allocation, at each bar's close."""

    close_ts: Int64Array
    gross: FloatArray
    net: FloatArray
    gross_exposure: FloatArray


class Strategy(Protocol):
    """What the engine needs of a strategy (:class:`~stratops.paper.strategy.PyfuncStrategy`)."""

    def targets(self, bars: Any) -> FloatArray:
        """Raw target fractions, shape (rows of ``bars``, symbols)."""
        ...


def symbol_data(market: Market, config: EngineConfig) -> list[SymbolData]:
    """The simulator's view of each symbol, trailing features included."""
    marks = market.mark()
    datas = []
    for column, symbol in enumerate(market.symbols):
        datas.append(
            SymbolData(
                symbol=symbol,
                step_ns=market.step_ns,
                ts=market.ts,
                open=market.open[:, column],
                high=market.high[:, column],
                low=market.low[:, column],
                close=market.close[:, column],
                volume=market.volume[:, column],
                mark=marks[:, column],
                quotes=market.quotes[column],
                features=symbol_features(
                    market.high[:, column],
                    market.low[:, column],
                    marks[:, column],
                    config.seed,
                    column,
                    config.execution,
                ),
            )
        )
    return datas


@dataclass
class Session:
    """The state of one run; :meth:`advance` is the only way it moves.

    ``records`` and ``events`` hold what was simulated since the last :meth:`take` (every bar
    of a backtest, which never takes). ``halt`` is the halt in force (:meth:`halt_now`).
    """

    market: Market
    strategy: Strategy
    config: EngineConfig
    cursor: int = 0
    halt: HaltBehaviour | None = None
    datas: list[SymbolData] = field(init=False)
    states: list[SymbolState] = field(init=False)
    records: list[list[BarRecords]] = field(init=False)
    events: list[list[RiskEvents]] = field(init=False)

    def __post_init__(self) -> None:
        self.datas = symbol_data(self.market, self.config)
        self.states = [initial_state(d) for d in self.datas]
        self.records = [[] for _ in self.datas]
        self.events = [[] for _ in self.datas]

    def resume(
        self, cursor: int, states: Sequence[SymbolState], halt: HaltBehaviour | None
    ) -> None:
        """Continue a run that stopped before bar ``cursor`` with each symbol in ``states``.

        Raises
        ------
        ConfigError
            When the market has fewer bars or other symbols than the stopped run.
        """
        if cursor > self.market.bars or len(states) != len(self.datas):
            raise ConfigError(
                f"cannot resume at bar {cursor} with {len(states)} symbol(s): the market has "
                f"{self.market.bars} bars of {len(self.datas)} symbol(s)",
                "paper.checkpoint",
            )
        self.cursor, self.states, self.halt = cursor, list(states), halt

    def take(self) -> tuple[list[BarRecords], list[list[RiskEvents]]]:
        """Records (one per symbol) and events simulated since the last take; forget them."""
        records, events = self._simulated(), self.events
        self.records = [[] for _ in self.datas]
        self.events = [[] for _ in self.datas]
        return records, events

    def halt_now(self, halt: HaltBehaviour) -> None:
        """Halt from the next bar on, and record a ``halt`` event per symbol.

        The event is at the close of the last bar simulated (where the next decision is
        taken): ``value`` is the exposure then (notional over allocation, signed), ``applied``
        the exposure the halt aims for (0 when flattening, the same otherwise) and ``action``
        the behaviour.
        """
        self.halt = halt
        bar = np.array([max(self.cursor - 1, 0)], dtype=np.int64)
        for column, state in enumerate(self.states):
            exposure = state.position * state.mark / self.config.allocation
            aim = 0.0 if halt is HaltBehaviour.FLATTEN else exposure
            self.events[column].append(
                RiskEvents(
                    bar,
                    np.array(["halt"]),
                    np.array([exposure]),
                    np.array([aim]),
                    np.array([halt.value]),
                )
            )

    @property
    def done(self) -> bool:
        """True when every bar has been simulated."""
        return self.cursor >= self.market.bars

    @property
    def seen_until_ns(self) -> int:
        """Market time revealed so far: the close of the last simulated bar."""
        if self.cursor == 0:
            return int(self.market.ts[0])
        return int(self.market.ts[self.cursor - 1] + self.market.step_ns)

    def advance(self, stop: int) -> None:
        """Reveal bars ``[cursor, stop)`` to the strategy and simulate them.

        Raises
        ------
        StrategyError
            When the strategy fails or answers in the wrong shape.
        """
        stop = min(stop, self.market.bars)
        if stop <= self.cursor:
            return
        raw_all = self.strategy.targets(self.market.bars_frame(stop))
        if raw_all.shape != (stop, len(self.datas)):
            raise StrategyError(
                f"strategy returned shape {raw_all.shape}, expected {(stop, len(self.datas))}",
                "strategy.output",
            )
        raw = raw_all[self.cursor : stop]
        limits = apply_limits(raw, self.config.max_fraction)
        for column, data in enumerate(self.datas):
            records, self.states[column] = simulate_symbol(
                data,
                limits.targets[:, column],
                self.cursor,
                self.states[column],
                self.config.allocation,
                self.config.execution,
                self.halt,
            )
            self.records[column].append(records)
            self.events[column].append(
                risk_events(
                    raw[:, column],
                    limits.targets[:, column],
                    limits.not_finite[:, column],
                    limits.over_limit[:, column],
                    self.cursor,
                )
            )
        self.cursor = stop

    def portfolio(self) -> Portfolio:
        """Per-bar returns of the whole allocation, from every bar simulated so far."""
        records = [concat_records(chunks) for chunks in self.records if chunks]
        if not records:
            return Portfolio(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
        allocation = self.config.allocation
        bars = records[0].bar
        return Portfolio(
            close_ts=self.market.ts[bars] + self.market.step_ns,
            gross=sum((r.gross for r in records), np.zeros(len(bars))) / allocation,
            net=sum((r.net for r in records), np.zeros(len(bars))) / allocation,
            gross_exposure=sum((np.abs(r.position * r.mark) for r in records), np.zeros(len(bars)))
            / allocation,
        )

    def horizons(self) -> tuple[int, ...]:
        """Markout horizons (seconds) for this market's bar size."""
        return self.config.horizons(self.market.step_ns / NS_PER_SECOND)

    def tables(self) -> dict[str, pa.Table]:
        """Telemetry of every bar simulated since the last :meth:`take` (markouts: data seen)."""
        return self.build(self._simulated(), self.events)

    def _simulated(self) -> list[BarRecords]:
        return [concat_records(chunks) if chunks else _empty_records() for chunks in self.records]

    def build(
        self, records: Sequence[BarRecords], events: Sequence[Sequence[RiskEvents]]
    ) -> dict[str, pa.Table]:
        """Telemetry of ``records`` and ``events`` (one entry per symbol), markouts: data seen."""
        liquidity = "maker" if self.config.execution.order_type is OrderType.LIMIT else "taker"
        return build_tables(
            self.datas,
            records,
            events,
            allocation=self.config.allocation,
            max_fraction=self.config.max_fraction,
            liquidity=liquidity,
            horizons=self.horizons(),
            until_ns=self.seen_until_ns,
        )


def _empty_records() -> BarRecords:
    empty_f = np.zeros(0)
    empty_i = np.zeros(0, dtype=np.int64)
    return BarRecords(
        bar=empty_i,
        fraction=empty_f,
        target=empty_f,
        position=empty_f,
        ordered=empty_f,
        filled=empty_f,
        data_time=empty_i,
        decision_time=empty_i,
        arrival_time=empty_i,
        decision_price=empty_f,
        arrival_price=empty_f,
        half_spread=empty_f,
        impact=empty_f,
        fill_price=empty_f,
        fee=empty_f,
        tick_to_order_ms=empty_f,
        order_to_venue_ms=empty_f,
        volume=empty_f,
        mark=empty_f,
        gross=empty_f,
        delay_cost=empty_f,
        spread_cost=empty_f,
        impact_cost=empty_f,
        funding=empty_f,
        net=empty_f,
    )


def run_backtest(market: Market, strategy: Strategy, config: EngineConfig) -> Session:
    """Simulate every bar of ``market`` in one chunk, as fast as possible.

    Parameters
    ----------
    market
        The replay.
    strategy
        Whole-frame predict: called once on all bars.
    config
        Allocation, seed, limits, execution.

    Returns
    -------
    Session
        The finished session; :meth:`Session.tables` gives the telemetry.
    """
    session = Session(market, strategy, config)
    session.advance(market.bars)
    return session


@dataclass(frozen=True)
class Pacing:
    """How a paper run follows the clock.

    ``speed`` is market seconds per clock second (60, 3600, ...; ``math.inf``: as fast as the
    machine goes, every bar at the first wake-up). ``poll_seconds`` is the least clock time
    between two wake-ups: at high speed one wake-up processes every bar that closed meanwhile,
    which changes nothing in the results (chunking is exact) and keeps a fast replay cheap.
    ``wake_seconds`` is the most clock time between two wake-ups, however far the next bar
    (a paper process reads its control file at each). ``flush_seconds`` is the clock time
    between two telemetry writes.
    """

    speed: float
    poll_seconds: float = 1.0
    flush_seconds: float = 5.0
    wake_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ConfigError(f"speed must be > 0, got {self.speed}", "config.speed")
        if not min(self.poll_seconds, self.flush_seconds, self.wake_seconds) > 0:
            raise ConfigError("poll, wake and flush intervals must be > 0", "config.pacing")

    def sleep_seconds(self, until_next_bar: float) -> float:
        """Clock time to sleep when the next bar closes in ``until_next_bar`` seconds."""
        return min(
            max(until_next_bar, self.poll_seconds), max(self.wake_seconds, self.poll_seconds)
        )


def run_paper(
    session: Session,
    clock: Clock,
    pacing: Pacing,
    stop: threading.Event,
    wake: Callable[[Session], None],
) -> bool:
    """Replay ``session``'s market on ``clock`` at ``pacing.speed`` until done or stopped.

    The replay starts at the close of the last bar simulated (of the first bar for a fresh
    session) at the clock's current time; a bar is revealed once the clock has reached its
    close. ``wake`` is called at every wake-up before the due bars are simulated (a paper
    process reads its control channel and flushes there), and once after the last.

    Parameters
    ----------
    session
        A fresh or resumed session.
    clock
        Wall clock in production, :class:`~stratops.paper.clock.ManualClock` in tests.
    pacing
        Speed and intervals.
    stop
        Set it (e.g. from a SIGTERM handler) to end the run after the current chunk.
    wake
        Called at each wake-up.

    Returns
    -------
    bool
        True when every bar was replayed, False when stopped first.
    """
    market = session.market
    close_ts = market.close_ts
    origin_ns = int(close_ts[max(session.cursor - 1, 0)])
    started = clock.now()
    while not session.done and not stop.is_set():
        wake(session)
        if math.isinf(pacing.speed):
            session.advance(market.bars)
            break
        elapsed = clock.now() - started
        market_now = origin_ns + int(elapsed * pacing.speed * NS_PER_SECOND)
        due = int(np.searchsorted(close_ts, market_now, side="right"))
        session.advance(due)
        if session.done:
            break
        wait = (int(close_ts[session.cursor]) - market_now) / NS_PER_SECOND / pacing.speed
        if not clock.sleep(pacing.sleep_seconds(wait), stop):
            break
    wake(session)
    return session.done
