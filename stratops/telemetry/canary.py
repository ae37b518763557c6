"""A deployment's telemetry for the canary judge: the adapter in front of :mod:`stratops.canary`.

:func:`canary_telemetry` reads the tables the judge needs for a window and says how far they are
complete; whatever stops the read (no telemetry, an unreadable file) becomes
:meth:`CanaryTelemetry.failed_to_read` with the reason, so the judge records an *error*, never a
failure. A paper run writes a fill only once all its markout horizons are past, so a running
run is complete up to its ``seen_until`` less its longest horizon; for a paper canary that is
also the clock to judge it with (its market time, not the wall's). ``run.json`` also gives the
length of the run's bars, which tells the judge which metrics the telemetry cannot measure
(a 1-minute markout on hourly bars).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa

from stratops.canary.inputs import CanaryTelemetry
from stratops.model.base import duration_seconds
from stratops.model.problems import InvalidDocumentError
from stratops.telemetry.reader import Window, read, runs
from stratops.telemetry.schema import RUN_FILE

CANARY_TABLES: Final = ("fills", "orders", "latency", "pnl")
_WRITING: Final = frozenset({"running"})  # statuses whose newest fills are still held back


def run_documents(folder: Path) -> list[dict[str, Any]]:
    """The ``run.json`` of every run of ``folder`` (an import has none)."""
    paths = [run / RUN_FILE for run in runs(folder)]
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths if path.is_file()]


def bar_seconds(documents: list[dict[str, Any]]) -> float | None:
    """The longest bar the runs of ``documents`` (:func:`run_documents`) replay
    (``market.bar``); None when no run says (imported fills have no bar)."""
    bars = [
        duration_seconds(str(document["market"]["bar"]))
        for document in documents
        if (document.get("market") or {}).get("bar")
    ]
    return max(bars) if bars else None


def complete_until(documents: list[dict[str, Any]]) -> datetime | None:
    """When every run of ``documents`` (:func:`run_documents`) has written all its rows up to;
    None when all are done.

    A run still ``running`` is complete up to ``seen_until`` less its longest markout horizon;
    a finished, stopped or caught-up run, a backtest and an import are complete. The earliest
    bound of the runs applies.
    """
    bounds = []
    for document in documents:
        if document.get("status") not in _WRITING or not document.get("seen_until"):
            continue
        seen = pd.Timestamp(document["seen_until"]).to_pydatetime()
        horizon = max(document.get("markout_horizons_seconds") or [0])
        bounds.append(seen - timedelta(seconds=float(horizon)))
    return min(bounds) if bounds else None


def canary_telemetry(folder: Path, window: Window) -> CanaryTelemetry:
    """The canary tables of ``folder`` (a run or a deployment) for ``window``.

    Never raises for bad telemetry: a missing folder, a deployment without runs, an unreadable
    Parquet file or ``run.json`` give :meth:`CanaryTelemetry.failed_to_read` naming the cause.
    """
    try:
        tables = {name: read(folder, name, window) for name in CANARY_TABLES}
        documents = run_documents(folder)
        complete, bar = complete_until(documents), bar_seconds(documents)
    except InvalidDocumentError as exc:
        return CanaryTelemetry.failed_to_read("; ".join(p.message for p in exc.problems))
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        return CanaryTelemetry.failed_to_read(f"{type(exc).__name__}: {exc}")
    return CanaryTelemetry(**tables, complete_until=complete, bar_seconds=bar)
