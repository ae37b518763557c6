"""What a canary should have earned: its version replayed by the paper engine (an adapter).

``pnl_vs_backtest`` compares a canary's PnL with the *same version* replayed by the *same
engine* over the *same bars* (:mod:`stratops.canary.metrics`, :mod:`stratops.paper.replay`).
:class:`ExpectedPnl` computes that replay for the snapshot, only for canaries whose template
in force measures the metric:

- the version's model, downloaded from the registry and verified against its model digest
  (as a paper process loads it, :func:`stratops.cli.paper.verified_strategy`);
- the deployment's market: its evidence's dataset over the evidence's data range, the symbols
  the model trades (as ``paper run`` builds it);
- the evidence's engine configuration: the deployment's allocation, and the seed, limits and
  execution model the evidence was produced with. Evidence bundles record no execution
  parameters, so these are the engine's defaults (:class:`~stratops.paper.config.EngineConfig`),
  those ``stratops backtest`` and ``paper run`` use unless told otherwise. A deployment whose
  orders cost more than that (a venue, or a process run with costlier execution) earns less
  than its replay: a negative z.

The replay is a :class:`~stratops.paper.engine.Session` kept in process memory per (strategy,
version, canary start, model, market, configuration): each tick simulates only the bars
that closed since the last one, exactly as the paper process walks its replay clock, so the
replay of a paper canary run with the evidence's configuration is its telemetry, bit for bit
(z = 0). A controller restart replays once from the first bar. Failing to read the registry,
the model or the data is a note for the metric's *error* measurements (never a rollback), and
is not cached: the next tick tries again.
"""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stratops.canary.limits import measured_metrics
from stratops.model.analysis import AnalysisTemplate, CanaryMetric
from stratops.model.deployment import DeploymentSpec
from stratops.paper.config import EngineConfig
from stratops.paper.datasets import load_dataset
from stratops.paper.engine import Session
from stratops.paper.errors import PaperError
from stratops.paper.market import Market
from stratops.paper.strategy import PyfuncStrategy
from stratops.registry.errors import RegistryError
from stratops.registry.registry import Registry

CAPACITY = 64  # replays kept in memory; the least recently used goes first


def evidence_config(spec: DeploymentSpec) -> EngineConfig:
    """The engine configuration a deployment's evidence was produced with, at its allocation."""
    return EngineConfig(allocation=spec.allocation)


def _ns(when: datetime | str | None) -> int | None:
    """ns since the epoch; a time without a zone is UTC (as ``paper run --start`` reads it)."""
    if when is None:
        return None
    stamp = pd.Timestamp(when)
    return int((stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).value)


@dataclass
class _Replay:
    """One version's replay: the session walked up to the last clock, and its ``pnl`` rows."""

    session: Session
    scratch: tempfile.TemporaryDirectory[str]  # the verified model the strategy was loaded from
    parts: list[pa.Table] = field(default_factory=list)

    def until(self, clock_ns: int) -> None:
        """Simulate the bars that closed by ``clock_ns`` and were not simulated yet."""
        market = self.session.market
        stop = int(np.searchsorted(market.ts + market.step_ns, clock_ns, side="right"))
        if stop <= self.session.cursor:
            return
        self.session.advance(stop)
        records, events = self.session.take()
        self.parts.append(self.session.build(records, events)["pnl"])

    def pnl(self, since_ns: int | None, clock_ns: int) -> pa.Table:
        """The replay's ``pnl`` rows of the bars closed in ``[since_ns, clock_ns]``."""
        table = pa.concat_tables(self.parts)
        self.parts = [table]
        ts = table.column("ts").cast(pa.int64())
        keep = pc.less_equal(ts, clock_ns)
        if since_ns is not None:
            keep = pc.and_(keep, pc.greater_equal(ts, since_ns))
        return table.filter(keep)


class ExpectedPnl:
    """The replays of the canaries judged on ``pnl_vs_backtest``, kept across ticks."""

    def __init__(
        self, registry: Registry, data_dir: Path | None = None, capacity: int = CAPACITY
    ) -> None:
        self.registry = registry
        self.data_dir = data_dir
        self.capacity = capacity
        self._replays: OrderedDict[tuple[object, ...], _Replay] = OrderedDict()

    def of(
        self,
        spec: DeploymentSpec,
        dataset: str,
        template: AnalysisTemplate,
        started: datetime,
        clock: datetime,
        since: datetime | None,
    ) -> tuple[pa.Table | None, str | None]:
        """The replay's ``pnl`` table from ``since`` to ``clock``, or why there is none.

        ``(None, None)`` when the template does not measure ``pnl_vs_backtest`` (nothing is
        computed); ``(None, reason)`` when the replay cannot be made this tick.
        """
        if CanaryMetric.PNL_VS_BACKTEST not in measured_metrics(template.spec):
            return None, None
        clock_ns = _ns(clock)
        assert clock_ns is not None
        try:
            key, replay = self._replay(spec, dataset, started)
        except (RegistryError, PaperError, OSError) as exc:
            return None, f"cannot replay {spec.model_uri}: {exc}"
        try:
            replay.until(clock_ns)
        except PaperError as exc:  # the strategy failed: start again next tick
            self._replays.pop(key).scratch.cleanup()
            return None, f"cannot replay {spec.model_uri}: {exc}"
        return replay.pnl(_ns(since), clock_ns), None

    def _replay(
        self, spec: DeploymentSpec, dataset: str, started: datetime
    ) -> tuple[tuple[object, ...], _Replay]:
        """The cached replay of the deployment, or a new one from its first bar.

        A registered version's model never changes (its download is verified against its
        digest when the replay starts), so the registry is not asked again while it runs.
        """
        window = (None, None) if spec.replay is None else (spec.replay.start, spec.replay.end)
        config = evidence_config(spec)
        key = (spec.strategy, spec.version, started, spec.model_uri, dataset, window, config)
        found = self._replays.get(key)
        if found is not None:
            self._replays.move_to_end(key)
            return key, found
        for old in [k for k in self._replays if k[:2] == key[:2]]:  # an older start
            self._replays.pop(old).scratch.cleanup()
        made = self._start(spec, dataset, window, config)
        self._replays[key] = made
        while len(self._replays) > self.capacity:
            self._replays.popitem(last=False)[1].scratch.cleanup()
        return key, made

    def _start(
        self,
        spec: DeploymentSpec,
        dataset: str,
        window: tuple[str | None, str | None],
        config: EngineConfig,
    ) -> _Replay:
        scratch = tempfile.TemporaryDirectory(prefix="stratops-replay-")
        try:
            folder = self.registry.download_model(
                spec.strategy, spec.version, Path(scratch.name) / "model"
            )
            strategy = PyfuncStrategy.load(spec.model_uri, folder=folder)
            market = self._market(dataset, strategy.info.symbols, window)
            session = Session(market, strategy, config)
            return _Replay(session, scratch, [session.tables()["pnl"]])  # no rows, typed
        except BaseException:
            scratch.cleanup()
            raise

    def _market(
        self, dataset: str, symbols: tuple[str, ...], window: tuple[str | None, str | None]
    ) -> Market:
        """The bars the deployment's paper process replays (``paper run``'s market)."""
        market = load_dataset(dataset, data_dir=self.data_dir, symbols=list(symbols))
        return market.between(_ns(window[0]), _ns(window[1]))
