"""What the judge is given: a canary's telemetry as tables, and who the canary is.

No I/O here: the controller reads the deployment's telemetry (:mod:`stratops.telemetry.reader`)
and its regime profile, and hands them over as values. Tables are ``pyarrow.Table`` or
``pandas.DataFrame`` with the columns of the telemetry schema (:mod:`stratops.telemetry.schema`,
``docs/telemetry.md``); only the columns a metric needs are read (see
:data:`stratops.canary.metrics.NEEDS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from stratops.analytics.regimes import HourOfWeekProfile, RegimeRules
from stratops.canary.run import AnalysisRun
from stratops.model.analysis import AnalysisTemplate

Table: TypeAlias = pa.Table | pd.DataFrame


def empty_table() -> pa.Table:
    """A table without rows (and without columns but ``ts``)."""
    return pa.table({"ts": pa.array([], type=pa.timestamp("ns", tz="UTC"))})


@dataclass(frozen=True)
class CanaryTelemetry:
    """A canary's telemetry tables, and how far they are complete.

    ``complete_until`` is the time up to which the deployment has written everything (the
    replay clock of a paper canary, the last flush of a live one); a window ending after it is
    not measured yet, and is an *error* once an interval has passed without the telemetry
    catching up. ``None`` means complete up to the judge's clock. ``unreadable`` is the
    adapter's reason when it could not read the telemetry at all: every measurement due is then
    an error carrying that reason. ``bar_seconds`` is the length of the deployment's bars (a
    paper run's ``run.json`` says it; None when unknown, as for imported fills): a metric whose
    horizon is shorter than a bar (:data:`stratops.canary.metrics.HORIZON_SECONDS`) is not
    measurable on that deployment, its measurements *inconclusive*, not errors.
    """

    fills: Table
    orders: Table
    latency: Table
    pnl: Table
    complete_until: datetime | None = None
    unreadable: str | None = None
    bar_seconds: float | None = None

    @classmethod
    def failed_to_read(cls, reason: str) -> CanaryTelemetry:
        """Telemetry the adapter could not read (``reason`` says why)."""
        empty = empty_table()
        return cls(empty, empty, empty, empty, unreadable=reason)


@dataclass(frozen=True)
class Canary:
    """One canary to judge.

    Parameters
    ----------
    strategy, version
        The canary's strategy version.
    template
        Its ``AnalysisTemplate``.
    allocation
        Capital of the canary (of the step judged): returns and the drawdown are PnL over it.
    started
        When the canary (the step) started; the first measurement is a full window later.
    telemetry
        Its telemetry, at least the trailing window of every measurement still to take.
    profile
        The hour-of-week profile its regimes come from (of the canary's main symbol).
    replay
        The ``pnl`` table of the same version replayed by the paper engine over the same bars
        with the same allocation (:func:`stratops.paper.replay.expected_pnl`;
        :mod:`stratops.controller.expectations` in the controller); needed only by
        ``pnl_vs_backtest``, which is an error without it.
    previous
        The run the last tick returned: its measurements are kept, only new windows are
        measured. ``None`` starts a run.
    step
        Index into the template's ``steps`` (0 without steps).
    min_duration
        The deployment stage's ``minDuration``; the longer of it and the template's (or the
        step's) applies.
    rules
        Regime thresholds of the profile; the product's defaults when None.
    hourly
        The market's :func:`~stratops.analytics.regimes.hourly_measures` over the canary's
        run, for the volatility-shock overlay: a window overlapping a shock hour is judged with
        the thin thresholds. Without it, regimes are liquidity only.
    live
        A live deployment, guarded by the template's ``haltOn`` conditions only (no verdict,
        no failure counts; see :func:`stratops.canary.limits.guard`); ``started`` is when it
        went live.
    unreplayed
        Why the caller has no replay (the model or the data could not be loaded): the note of
        ``pnl_vs_backtest``'s error measurements.
    """

    strategy: str
    version: int
    template: AnalysisTemplate
    allocation: float
    started: datetime
    telemetry: CanaryTelemetry
    profile: HourOfWeekProfile
    replay: Table | None = None
    previous: AnalysisRun | None = None
    step: int = 0
    min_duration: str | None = None
    rules: RegimeRules | None = None
    hourly: pd.DataFrame | None = None
    live: bool = False
    unreplayed: str | None = None


def column(table: Table, name: str) -> np.ndarray | None:
    """Column ``name`` of a table as numpy; None if absent.

    Timestamps and integers come as int64 (ns since the epoch, UTC), strings as objects,
    other numbers as float64 (nulls NaN).
    """
    if isinstance(table, pa.Table):
        if name not in table.column_names:
            return None
        data = table.column(name)
        if pa.types.is_timestamp(data.type):
            return np.asarray(data.cast(pa.timestamp("ns", tz="UTC")).to_numpy(), dtype=np.int64)
        if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
            return np.asarray(data.to_numpy(zero_copy_only=False), dtype=object)
        if pa.types.is_integer(data.type):
            return np.asarray(data.to_numpy(zero_copy_only=False), dtype=np.int64)
        return np.asarray(data.to_numpy(zero_copy_only=False), dtype=np.float64)
    if name not in table.columns:
        return None
    series = table[name]
    if isinstance(series.dtype, pd.DatetimeTZDtype) or series.dtype.kind == "M":
        stamps = pd.DatetimeIndex(series)
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC").tz_localize(None)
        return np.asarray(stamps.as_unit("ns").asi8, dtype=np.int64)
    if series.dtype.kind in "OSU" or isinstance(series.dtype, pd.StringDtype):
        return np.asarray(series.to_numpy(), dtype=object)
    if series.dtype.kind in "iu":
        return np.asarray(series.to_numpy(), dtype=np.int64)
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def columns_of(table: Table) -> frozenset[str]:
    """The table's column names."""
    return frozenset(table.schema.names if isinstance(table, pa.Table) else table.columns)


def rows_of(table: Table) -> int:
    return int(table.num_rows) if isinstance(table, pa.Table) else len(table)


def concat_tables(tables: Sequence[Table]) -> Table:
    """The tables one after the other; a column some lack is null (NaN) in their rows.

    Arrow tables are concatenated as Arrow (types promoted); with any pandas frame among
    them, as pandas.
    """
    if not tables:
        return empty_table()
    if all(isinstance(t, pa.Table) for t in tables):
        return pa.concat_tables(tables, promote_options="permissive")
    frames = [t.to_pandas() if isinstance(t, pa.Table) else t for t in tables]
    frames = [f for f in frames if len(f.columns)]
    return pd.concat(frames, ignore_index=True) if frames else empty_table()
