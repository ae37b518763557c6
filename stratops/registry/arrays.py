"""Load a validated bundle into arrays: the :class:`EvidenceData` the gate checks read."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stratops.model.evidence import EVIDENCE_FILES, EvidenceKind
from stratops.model.evidence_data import EvidenceData, Floats, Ints, Trades
from stratops.registry.models import Bundle

T = TypeVar("T")


def _floats(table: pa.Table, name: str) -> Floats | None:
    if name not in table.column_names:
        return None
    return np.asarray(table.column(name).to_numpy(), dtype=np.float64)


def _nanos(table: pa.Table, name: str) -> Ints | None:
    if name not in table.column_names:
        return None
    column = table.column(name).cast(pa.timestamp("ns", tz="UTC"))
    return np.asarray(column.to_numpy(), dtype="datetime64[ns]").view(np.int64)


def _required(value: T | None, file: str, name: str) -> T:
    if value is None:  # scan_bundle guarantees required columns; this guards misuse
        raise ValueError(f"{file} lacks required column {name!r}")
    return value


def _read(root: Path, kind: EvidenceKind) -> pa.Table:
    return pq.read_table(root / EVIDENCE_FILES[kind])


def load_trials(bundle: Bundle) -> tuple[list[str], Ints, Floats]:
    """Trial names, end of each day (ns) and the days x trials matrix of daily net returns."""
    trials = _read(bundle.root, EvidenceKind.TRIALS)
    trial_names = [name for name in trials.column_names if name != "timestamp"]
    matrix = (
        np.column_stack([trials.column(n).to_numpy() for n in trial_names]).astype(np.float64)
        if trial_names
        else np.empty((trials.num_rows, 0))
    )
    ends = _required(_nanos(trials, "timestamp"), EVIDENCE_FILES[EvidenceKind.TRIALS], "timestamp")
    return trial_names, ends, matrix


def load_evidence_arrays(bundle: Bundle) -> EvidenceData:
    """Arrays of a bundle that :func:`stratops.registry.bundle.scan_bundle` accepted."""
    root = bundle.root
    returns = _read(root, EvidenceKind.RETURNS)
    trades = _read(root, EvidenceKind.TRADES)
    latency = _read(root, EvidenceKind.LATENCY)
    _, trials_timestamp, trial_matrix = load_trials(bundle)
    returns_file = EVIDENCE_FILES[EvidenceKind.RETURNS]
    trades_file = EVIDENCE_FILES[EvidenceKind.TRADES]
    return EvidenceData(
        digest=bundle.digest,
        file_digests={entry.path: entry.sha256 for entry in bundle.manifest.spec.files},
        metadata=bundle.metadata,
        data_quality=bundle.data_quality,
        returns_timestamp=_required(_nanos(returns, "timestamp"), returns_file, "timestamp"),
        returns_net=_required(_floats(returns, "net"), returns_file, "net"),
        returns_gross=_required(_floats(returns, "gross"), returns_file, "gross"),
        gross_exposure=_floats(returns, "gross_exposure"),
        trades=Trades(
            timestamp=_required(_nanos(trades, "timestamp"), trades_file, "timestamp"),
            symbol=np.asarray(trades.column("symbol").to_numpy(zero_copy_only=False), dtype=str),
            quantity=_required(_floats(trades, "quantity"), trades_file, "quantity"),
            price=_required(_floats(trades, "price"), trades_file, "price"),
            decision_time=_nanos(trades, "decision_time"),
            data_time=_nanos(trades, "data_time"),
            market_volume=_floats(trades, "market_volume"),
        ),
        latency_ms=_required(
            _floats(latency, "tick_to_order_ms"), EVIDENCE_FILES[EvidenceKind.LATENCY], "ms"
        ),
        trials_timestamp=trials_timestamp,
        trials=trial_matrix,
    )
