"""The paper process: what the local runtime starts, one OS process per deployment.

:func:`run_paper_process` replays a market on the wall clock at ``speed`` times real time,
writes telemetry every few seconds, and on SIGTERM (or SIGINT) finishes the current chunk,
writes the telemetry a last time with ``status: stopped`` and returns — a graceful stop.
``stratops paper run`` is its command line.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Any

from stratops import __version__
from stratops.paper.clock import Clock, WallClock
from stratops.paper.config import EngineConfig
from stratops.paper.engine import Pacing, Session, Strategy, run_paper
from stratops.paper.market import Market
from stratops.paper.marketdata.schema import format_step, iso_utc
from stratops.paper.telemetry import write_telemetry
from stratops.paper.venue import write_session_statement

TELEMETRY_VERSION = 1


class RunStatus(StrEnum):
    """``status`` of ``run.json``."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class RunIdentity:
    """Who runs: the strategy model and what it says about itself, for ``run.json``."""

    model_uri: str
    strategy: dict[str, Any]


def run_document(
    session: Session, identity: RunIdentity, mode: str, status: RunStatus, speed: float | None
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
        Replay speed of a paper run; None for a backtest.

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
        "speed": speed,
        "markout_horizons_seconds": list(session.horizons()),
        "bars_total": market.bars,
        "bars_done": session.cursor,
        "seen_until": iso_utc(session.seen_until_ns),
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


def run_paper_process(
    *,
    strategy: Strategy,
    identity: RunIdentity,
    market: Market,
    config: EngineConfig,
    telemetry: Path,
    pacing: Pacing,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
) -> PaperOutcome:
    """Run a strategy as a paper deployment until the replay ends or a stop signal.

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
        The run's telemetry folder.
    pacing
        Speed (market seconds per clock second) and poll/flush intervals.
    clock
        The wall clock when None.
    stop
        Set it to stop; when None, SIGTERM and SIGINT set one (main thread only), and the
        previous handlers are restored on return.

    Returns
    -------
    PaperOutcome
        ``completed`` when the whole replay ran, ``stopped`` otherwise; telemetry is
        flushed either way.
    """
    session = Session(market, strategy, config)
    own_stop = stop is None
    event = threading.Event() if stop is None else stop
    previous = _install_stop_handlers(event) if own_stop else {}

    def flush(current: Session) -> None:
        write_telemetry(
            telemetry,
            current.tables(),
            run_document(current, identity, "paper", RunStatus.RUNNING, pacing.speed),
        )
        write_session_statement(telemetry, current)

    try:
        completed = run_paper(session, clock or WallClock(), pacing, event, flush)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    status = RunStatus.COMPLETED if completed else RunStatus.STOPPED
    write_telemetry(
        telemetry, session.tables(), run_document(session, identity, "paper", status, pacing.speed)
    )
    write_session_statement(telemetry, session)
    return PaperOutcome(status, session.cursor, market.bars, telemetry)
