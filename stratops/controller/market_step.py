"""What the controller exports each tick about markets and execution: the alerts' series.

- ``stratops_market_regime`` and ``stratops_market_overlay`` for each (venue, symbol) a
  deployment trades from a packaged dataset: the hour-of-week profile and hourly measures of
  that dataset's symbol (:func:`stratops.paper.datasets.symbol_regimes`, computed once per
  process) at the tick's clock, through :meth:`Metrics.export_context`; the volatility-shock
  overlay is on while the trailing hour overlaps an hour of the dataset the canary judge calls
  a shock (:func:`stratops.alerts.regime.market_context`; off at moments the dataset does not
  cover);
- the execution gauges (``stratops_slippage_bps``, ``stratops_fill_ratio``, ...) of each
  (strategy, stage, venue, symbol) from the deployment's telemetry
  (:func:`stratops.analytics.execution.execution_measures` over the trailing
  :data:`EXECUTION_WINDOW`), recomputed only when the process reports progress;
- ``stratops_market_data_last_update_timestamp_seconds`` per (venue, symbol): when a
  deployment's process last reported progress through the market data (the runtime's
  ``bars_done``: the time of the ``run.json`` that first reported it); a replay that caught
  up, or a process stuck on its feed, goes stale.

Series of deployments that are gone are removed. A deployment whose process reported nothing
new since the last tick costs no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from stratops.alerts.regime import market_context
from stratops.analytics.execution import execution_measures
from stratops.analytics.regimes import HourOfWeekProfile, ShockHours
from stratops.controller.observability import Metrics
from stratops.controller.plan import Key
from stratops.model.deployment import DeploymentStatus
from stratops.model.problems import InvalidDocumentError
from stratops.paper.datasets import DATASETS, symbol_regimes
from stratops.paper.errors import PaperError
from stratops.report.build import order_frame
from stratops.runtime.base import Runtime, RuntimeFailure
from stratops.telemetry import reader
from stratops.telemetry.schema import RUN_FILE

EXECUTION_WINDOW: Final = pd.Timedelta(hours=1)
"""Execution quality is measured over the last hour of the telemetry's own clock."""
READ_FAILURES = (InvalidDocumentError, OSError, pa.ArrowException, ValueError)

Labels = tuple[str, str, str, str]  # strategy, stage, venue, symbol
Regimes = tuple[HourOfWeekProfile, ShockHours]  # a market's profile and its shock hours


def read_measures(folder: Path, allocation: float) -> pd.DataFrame:
    """:func:`execution_measures` of the run in ``folder`` (one row per symbol)."""
    tables = {
        name: reader.read(folder, name).to_pandas()
        for name in ("orders", "fills", "latency", "pnl", "positions")
    }
    return execution_measures(
        orders=order_frame(tables["orders"], tables["positions"], None),
        fills=tables["fills"],
        latency=tables["latency"],
        pnl=tables["pnl"],
        allocation=allocation,
        window=EXECUTION_WINDOW,
    )


@dataclass(frozen=True)
class Measured:
    """A run's measures, and the progress they were read at."""

    progress: tuple[object, ...]  # bars done, halt acknowledged
    updated: float  # Unix time of the run.json that first reported this progress
    measures: pd.DataFrame


class MarketStep:
    """Reads telemetry and profiles, sets the gauges; decides nothing."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        metrics: Metrics,
        now: Callable[[], datetime],
        log: logging.Logger,
        data_dir: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.now = now
        self.log = log
        self.data_dir = data_dir
        self._profiles: dict[tuple[str, str], Regimes | None] = {}
        self._measured: dict[Path, Measured] = {}
        self._exported: set[Labels] = set()
        self._updated: set[tuple[str, str]] = set()

    def _profile(self, dataset: str, symbol: str) -> Regimes | None:
        """The profile and shock hours of ``symbol`` in ``dataset`` (None: no profile), each
        market's classified once per process."""
        key = (dataset, symbol)
        if key not in self._profiles:
            try:
                profile, hourly = symbol_regimes(dataset, symbol, self.data_dir)
            except (PaperError, OSError, ValueError) as exc:
                self.log.warning("no regime profile", extra={"dataset": dataset, "error": str(exc)})
                profile = None
            self._profiles[key] = (
                None if profile is None else (profile, ShockHours.of(profile, hourly))
            )
        return self._profiles[key]

    def _regimes(self, observed: Mapping[Key, DeploymentStatus]) -> None:
        markets = {
            (s.spec.venue, symbol, s.spec.replay.dataset)
            for s in observed.values()
            if s.spec.replay is not None and s.spec.replay.dataset in DATASETS
            for symbol in s.spec.symbols
        }
        at_ns = int(self.now().timestamp() * 1e9)
        for venue, symbol, dataset in sorted(markets):
            found = self._profile(dataset, symbol)
            if found is not None:
                profile, shocks = found
                context = market_context(profile, at_ns, shocks)
                self.metrics.export_context(venue, symbol, context)

    def _measures(self, status: DeploymentStatus) -> Measured | None:
        """The measures of a deployment whose process reported progress, read again only when
        it progressed (or acknowledged a halt)."""
        if status.bars_done is None:
            return None
        try:
            folder = self.runtime.telemetry_folder(status.spec)
        except RuntimeFailure:
            return None
        progress = (status.bars_done, status.halted)
        cached = self._measured.get(folder)
        if cached is not None and cached.progress == progress:
            return cached
        try:
            updated = (folder / RUN_FILE).stat().st_mtime
            measures = read_measures(folder, status.spec.allocation)
        except READ_FAILURES as exc:
            self.log.warning(
                "execution metrics not read", extra={"run": str(folder), "error": str(exc)}
            )
            return cached
        measured = Measured(progress, updated, measures)
        self._measured[folder] = measured
        return measured

    def export(self, observed: Mapping[Key, DeploymentStatus]) -> None:
        """Set every market and execution gauge for the deployments ``observed``."""
        self._regimes(observed)
        exported: set[Labels] = set()
        updated: dict[tuple[str, str], float] = {}
        for (strategy, stage), status in sorted(observed.items()):
            found = self._measures(status)
            if found is None:
                continue
            measures = found.measures
            symbols = list(status.spec.symbols)  # NaN where a symbol did not trade
            values = measures.reindex(symbols).to_numpy(np.float64)
            for row, symbol in enumerate(symbols):
                market = (status.spec.venue, symbol)
                updated[market] = max(updated.get(market, 0.0), found.updated)
                labels = (strategy, stage.value, status.spec.venue, symbol)
                exported.add(labels)
                for column, name in enumerate(measures.columns):
                    self.metrics.execution[name].labels(*labels).set(values[row, column])
        for labels in self._exported - exported:
            for gauge in self.metrics.execution.values():
                gauge.remove(*labels)
        for market, written in updated.items():
            self.metrics.market_data_updated.labels(*market).set(written)
        for market in self._updated - set(updated):
            self.metrics.market_data_updated.remove(*market)
        self._exported, self._updated = exported, set(updated)
