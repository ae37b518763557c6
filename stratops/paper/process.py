"""The paper process: what a runtime starts, one long-running OS process per deployment.

:func:`run_paper_process` walks the replay clock forward at ``speed`` times real time and
simulates only the bars that closed since its last wake-up. Every ``flush_seconds`` it appends
the new rows as one more part of each telemetry table
(:func:`stratops.telemetry.writer.append_part`: history is never rewritten), appends the paper
venue's statement of what it executed (:mod:`stratops.paper.venue`), then writes its
checkpoint (:mod:`stratops.paper.checkpoint`) and ``run.json``. Started again on the same
folder, it resumes after the last checkpointed bar, and the telemetry is the same, bit for
bit, as one uninterrupted replay of the same bars (and so is the venue's statement, line for
line).

When the data is exhausted it writes everything, reports ``status: caught_up`` and stays up,
idle, so a runtime does not restart it. At every wake-up it reads its control file
(:mod:`stratops.paper.control`) and applies a halt at once. SIGTERM (or SIGINT) finishes the
current chunk, flushes, checkpoints, writes ``status: stopped`` and returns — a graceful stop.
``stratops paper run`` is its command line.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from stratops import __version__
from stratops.paper.checkpoint import Checkpoint, fingerprint, read_checkpoint, write_checkpoint
from stratops.paper.clock import Clock, WallClock
from stratops.paper.config import EngineConfig
from stratops.paper.control import CONTROL_FILE, Acknowledged, read_command
from stratops.paper.engine import Pacing, Session, Strategy, run_paper
from stratops.paper.errors import ConfigError
from stratops.paper.execution import NS_PER_MS, BarRecords
from stratops.paper.market import Market
from stratops.paper.marketdata.schema import NS_PER_SECOND, format_step, iso_utc
from stratops.paper.telemetry import concat_records, select_records, write_run
from stratops.paper.venue import VenueCursor, position_lines, statement_folder, trade_lines
from stratops.paper.venue import append as append_statement
from stratops.paper.venue import resume as resume_statement
from stratops.telemetry.writer import append_part, discard_parts

TELEMETRY_VERSION = 1


class RunStatus(StrEnum):
    """``status`` of ``run.json``."""

    RUNNING = "running"
    CAUGHT_UP = "caught_up"  # a paper process whose data is exhausted: idle, still up
    COMPLETED = "completed"  # a backtest
    STOPPED = "stopped"


@dataclass(frozen=True)
class RunIdentity:
    """Who runs: the strategy model and what it says about itself, for ``run.json``."""

    model_uri: str
    strategy: dict[str, Any]


def run_document(
    session: Session,
    identity: RunIdentity,
    mode: str,
    status: RunStatus,
    speed: float | None,
    halt: Acknowledged | None = None,
) -> dict[str, Any]:
    """``run.json``: facts about a run, deterministic (no wall-clock time inside).

    Parameters
    ----------
    session
        The run.
    identity
        Model URI and strategy metadata.
    mode
        ``backtest`` or ``paper``.
    status
        Running, completed or stopped.
    speed
        Replay speed of a paper run (``math.inf``: ``"max"``); None for a backtest.
    halt
        The halt command a paper process applied, if any.

    Returns
    -------
    dict
        JSON-able; documented in ``docs/telemetry.md``.
    """
    market = session.market
    return {
        "telemetry_version": TELEMETRY_VERSION,
        "engine_version": __version__,
        "mode": mode,
        "status": status.value,
        "model_uri": identity.model_uri,
        "strategy": identity.strategy,
        "market": {
            "name": market.name,
            "venue": market.venue,
            "symbols": list(market.symbols),
            "bar": format_step(market.step_ns),
            "start": iso_utc(int(market.ts[0])),
            "end": iso_utc(int(market.ts[-1] + market.step_ns)),
            "data_quality": market.quality.to_evidence().model_dump(mode="json", by_alias=True),
        },
        "config": session.config.as_dict(),
        "speed": "max" if speed is not None and math.isinf(speed) else speed,
        "markout_horizons_seconds": list(session.horizons()),
        "bars_total": market.bars,
        "bars_done": session.cursor,
        "seen_until": iso_utc(session.seen_until_ns),
        "positions": {
            d.symbol: s.position for d, s in zip(session.datas, session.states, strict=True)
        },
        "halt": None if halt is None else halt.model_dump(mode="json"),
    }


@dataclass(frozen=True)
class PaperOutcome:
    """How a paper process ended."""

    status: RunStatus
    bars_done: int
    bars_total: int
    telemetry: Path


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _filled(records: BarRecords) -> BarRecords:
    return select_records(records, records.filled != 0)


@dataclass
class _Deployment:
    """The process's writing side: what is flushed, what waits, what was acknowledged."""

    session: Session
    identity: RunIdentity
    folder: Path
    control: Path
    pacing: Pacing
    clock: Clock
    key: str
    pending: list[BarRecords]
    next_part: int = 0
    halt: Acknowledged | None = None
    last_flush: float = 0.0
    venue: VenueCursor = field(default_factory=VenueCursor)
    reported: list[float] = field(default_factory=list)  # positions the venue last reported
    control_problem: str = field(default="", repr=False)
    on_flush: Callable[[], None] | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls, session: Session, identity: RunIdentity, folder: Path, control: Path,
        pacing: Pacing, clock: Clock, on_flush: Callable[[], None] | None = None,
    ) -> _Deployment:  # fmt: skip
        """A fresh deployment, or the one checkpointed in ``folder`` (its stray parts removed)."""
        key = fingerprint(identity.model_uri, session.market, session.config)
        folder.mkdir(parents=True, exist_ok=True)
        checkpoint = read_checkpoint(folder, key)
        deployment = cls(session, identity, folder, control, pacing, clock, key, [])
        deployment.on_flush = on_flush
        deployment.reported = [math.nan] * len(session.datas)
        if checkpoint is None:
            deployment.pending = [_filled(r) for r in session.take()[0]]  # empty, typed
        else:
            session.resume(checkpoint.cursor, checkpoint.states, checkpoint.halt)
            deployment.pending = list(checkpoint.pending)
            deployment.next_part = checkpoint.next_part
            deployment.venue = checkpoint.venue
            deployment.reported = [s.position for s in checkpoint.states]
            if checkpoint.halt is not None and checkpoint.command is not None:
                deployment.halt = Acknowledged(mode=checkpoint.halt, command=checkpoint.command)
        discard_parts(folder, deployment.next_part)
        resume_statement(statement_folder(folder), deployment.venue)
        deployment.flush()
        return deployment

    def status(self) -> RunStatus:
        return RunStatus.CAUGHT_UP if self.session.done else RunStatus.RUNNING

    def flush(self, status: RunStatus | None = None) -> None:
        """Append the new rows as the next part and the venue's new lines, then checkpoint,
        then ``run.json``."""
        session = self.session
        records, events = session.take()
        tables = session.build(records, events)
        pending = [
            concat_records([p, _filled(r)]) for p, r in zip(self.pending, records, strict=True)
        ]
        horizon_ns = max(session.horizons(), default=0) * NS_PER_SECOND
        ready = [
            np.full(len(p.bar), session.done)
            | (p.arrival_time + horizon_ns <= session.seen_until_ns)
            for p in pending
        ]  # a fill is written once all its markouts are known: then never again
        booked = [select_records(p, r) for p, r in zip(pending, ready, strict=True)]
        fills = session.build(booked, [[] for _ in pending])["fills"]
        self.pending = [select_records(p, ~r) for p, r in zip(pending, ready, strict=True)]
        append_part(self.folder, {**tables, "fills": fills}, self.next_part)
        self.next_part += 1
        positions = [s.position for s in session.states]
        self.venue = append_statement(
            statement_folder(self.folder),
            self.venue,
            trade_lines(session.datas, booked, self.venue.trades),
            position_lines(
                session.datas, positions, self.reported, session.seen_until_ns // NS_PER_MS
            ),
        )
        self.reported = positions
        write_checkpoint(
            self.folder,
            Checkpoint(
                fingerprint=self.key,
                cursor=session.cursor,
                states=tuple(session.states),
                pending=tuple(self.pending),
                next_part=self.next_part,
                halt=session.halt,
                command=None if self.halt is None else self.halt.command,
                venue=self.venue,
            ),
        )
        document = run_document(
            session, self.identity, "paper", status or self.status(), self.pacing.speed, self.halt
        )
        write_run(self.folder, document)
        if self.on_flush is not None:
            self.on_flush()
        self.last_flush = self.clock.now()

    def wake(self, session: Session) -> None:
        """Apply a new control command (and flush at once), else flush when it is time."""
        due = self.clock.now() - self.last_flush >= self.pacing.flush_seconds
        if self.apply_command() or due:
            self.flush()

    def apply_command(self) -> bool:
        """Apply a new command of the control file; True when one was applied."""
        try:
            command = read_command(self.control)
        except ConfigError as exc:
            if str(exc) != self.control_problem:  # said once, not at every wake-up
                self.control_problem = str(exc)
                print(f"paper: ignoring the control file: {exc}", file=sys.stderr, flush=True)
            return False
        self.control_problem = ""
        if command is None or (self.halt is not None and self.halt.command == command.id):
            return False
        self.session.halt_now(command.mode)
        self.halt = Acknowledged(mode=command.mode, command=command.id)
        print(f"paper: halted ({command.mode.value}) by {command.by}: {command.reason}",
              file=sys.stderr, flush=True)  # fmt: skip
        return True


def run_paper_process(
    *,
    strategy: Strategy,
    identity: RunIdentity,
    market: Market,
    config: EngineConfig,
    telemetry: Path,
    pacing: Pacing,
    control: Path | None = None,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
    on_flush: Callable[[], None] | None = None,
) -> PaperOutcome:
    """Run a strategy as a paper deployment until a stop signal, resuming its checkpoint.

    Parameters
    ----------
    strategy
        The loaded strategy (:class:`~stratops.paper.strategy.PyfuncStrategy`).
    identity
        Model URI and metadata, written into ``run.json``.
    market
        The replay.
    config
        Allocation, seed, limits, execution.
    telemetry
        The run's folder: telemetry parts, ``run.json``, ``checkpoint.json``.
    pacing
        Speed (market seconds per clock second) and poll/wake/flush intervals.
    control
        The control file; ``telemetry/control.json`` when None.
    clock
        The wall clock when None.
    stop
        Set it to stop; when None, SIGTERM and SIGINT set one (main thread only), and the
        previous handlers are restored on return.
    on_flush
        Called after each flush, once ``run.json`` is written (a pod publishes its run folder
        to the telemetry bucket, :class:`stratops.telemetry.objectstore.Publisher`).

    Returns
    -------
    PaperOutcome
        Always ``stopped`` (a deployment runs until told otherwise), telemetry and
        checkpoint flushed.

    Raises
    ------
    ConfigError
        ``paper.checkpoint`` when ``telemetry`` holds another run's checkpoint.
    """
    session = Session(market, strategy, config)
    clock = clock or WallClock()
    own_stop = stop is None
    event = threading.Event() if stop is None else stop
    previous = _install_stop_handlers(event) if own_stop else {}
    try:
        deployment = _Deployment.start(
            session, identity, telemetry, control or telemetry / CONTROL_FILE, pacing, clock,
            on_flush,
        )  # fmt: skip
        if run_paper(session, clock, pacing, event, deployment.wake):
            deployment.flush()  # caught up: every fill written, markouts to the end of the data
            while clock.sleep(pacing.wake_seconds, event):
                if deployment.apply_command():
                    deployment.flush()
        deployment.flush(RunStatus.STOPPED)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return PaperOutcome(RunStatus.STOPPED, session.cursor, market.bars, telemetry)
