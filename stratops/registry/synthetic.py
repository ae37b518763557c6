"""Synthetic evidence for tests, demos and benchmarks.

:func:`write_synthetic_bundle` writes a valid bundle of any size from a seed (numpy and pyarrow,
vectorised: three years of minute returns take well under a second); :func:`write_variant`
copies one as another version of the same search (same trials, other parameters, so another
digest). :func:`save_constant_model`
saves the smallest strategy there is: an MLflow pyfunc that always returns the same position.
The numbers look like a strategy's but mean nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stratops.analytics.returns import NS_PER_DAY, utc_day
from stratops.model.base import StrategyType
from stratops.model.canonical import sha256_hex
from stratops.model.evidence import EVIDENCE_FILES, EvidenceKind

MINUTE_NS = 60 * 10**9
UTC_NS = pa.timestamp("ns", tz="UTC")
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)


def _timestamps(ns: np.ndarray) -> pa.Array:
    return pa.array(ns.astype(np.int64), type=pa.int64()).cast(UTC_NS)


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, tz=UTC).isoformat()


def _write(directory: Path, kind: EvidenceKind, columns: dict[str, Any]) -> None:
    pq.write_table(pa.table(columns), directory / EVIDENCE_FILES[kind])


def _dump(directory: Path, kind: EvidenceKind, document: dict[str, Any]) -> None:
    (directory / EVIDENCE_FILES[kind]).write_text(json.dumps(document, indent=2) + "\n")


def write_synthetic_bundle(
    directory: Path,
    *,
    return_rows: int = 3 * 1440,
    trades: int = 200,
    trials: int = 10,
    trial_days: int | None = None,
    latency_rows: int = 1000,
    seed: int = 0,
    strategy_type: StrategyType | str = StrategyType.TREND,
    start: datetime = DEFAULT_START,
    symbols: Sequence[str] = ("BTC/USDT",),
    venue: str = "binance",
    allocation: float = 100_000.0,
) -> Path:
    """Write a valid evidence bundle into ``directory`` (created if needed) and return it.

    Returns are one row per minute from ``start``; trials hold ``trials`` columns of daily
    returns on ``trial_days`` dates spread over the days the returns cover (default: every
    day), the first and last included; ``allocation`` is the capital the backtest simulated.
    Same arguments, same bytes.
    """
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    start_ns = int(start.timestamp()) * 10**9
    ts = start_ns + np.arange(1, return_rows + 1, dtype=np.int64) * MINUTE_NS  # period ends
    gross = rng.normal(2e-6, 4e-4, return_rows)
    _write(
        directory,
        EvidenceKind.RETURNS,
        {
            "timestamp": _timestamps(ts),
            "gross": gross,
            "net": gross - np.abs(rng.normal(0, 5e-6, return_rows)),
            "gross_exposure": rng.uniform(0.0, 1.5, return_rows),
        },
    )

    fill_ns = np.sort(rng.integers(int(ts[0]), int(ts[-1]) + 1, trades))
    quantity = rng.lognormal(-3.0, 1.0, trades)
    price = 40_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, trades)))
    decision_ns = fill_ns - rng.integers(1_000_000, 50_000_000, trades)
    symbol_index = rng.integers(0, len(symbols), trades)
    side_index = rng.integers(0, 2, trades)
    _write(
        directory,
        EvidenceKind.TRADES,
        {
            "timestamp": _timestamps(fill_ns),
            "symbol": pa.DictionaryArray.from_arrays(symbol_index, list(symbols)).cast(pa.string()),
            "side": pa.DictionaryArray.from_arrays(side_index, ["buy", "sell"]).cast(pa.string()),
            "quantity": quantity,
            "price": price,
            "fee": quantity * price * 4e-4,
            "decision_time": _timestamps(decision_ns),
            "data_time": _timestamps(decision_ns - rng.integers(100_000, 5_000_000, trades)),
            "arrival_price": price * (1 + rng.normal(0, 1e-4, trades)),
            "market_volume": quantity * rng.uniform(20, 2000, trades),
        },
    )

    _write(
        directory,
        EvidenceKind.LATENCY,
        {"tick_to_order_ms": rng.lognormal(0.0, 0.5, latency_rows)},
    )

    first_day, last_day = (int(day) for day in utc_day(ts[[0, -1]]))
    all_days = np.arange(first_day, last_day + 1, dtype=np.int64)
    count = all_days.size if trial_days is None else min(trial_days, all_days.size)
    days = np.unique(all_days[np.linspace(0, all_days.size - 1, count).round().astype(np.int64)])
    daily = rng.normal(1e-4, 1e-2, (days.size, trials))
    trial_columns: dict[str, Any] = {"timestamp": _timestamps((days + 1) * NS_PER_DAY)}
    trial_columns |= {f"trial_{i:04d}": daily[:, i] for i in range(trials)}
    _write(directory, EvidenceKind.TRIALS, trial_columns)

    _dump(
        directory,
        EvidenceKind.METADATA,
        {
            "strategyType": str(strategy_type),
            "symbols": list(symbols),
            "venue": venue,
            "codeCommit": sha256_hex(f"code-{seed}".encode())[:40],
            "parameters": {"lookback": 60, "threshold": 1.5, "seed": seed},
            "dataRange": {"start": _iso(int(ts[0])), "end": _iso(int(ts[-1]))},
            "periodsPerYear": 525_600,
            "trials": trials,
            "allocation": allocation,
        },
    )
    _dump(
        directory,
        EvidenceKind.DATA_QUALITY,
        {
            "source": "synthetic",
            "start": _iso(int(ts[0])),
            "end": _iso(int(ts[-1])),
            "rows": return_rows,
            "expectedRows": return_rows,
            "gaps": 0,
            "duplicates": 0,
            "maxStalenessSeconds": 60.0,
            "fingerprint": sha256_hex(f"market-data-{seed}".encode()),
        },
    )
    return directory


def write_variant(bundle: Path, directory: Path, variant: int) -> Path:
    """Copy ``bundle`` into ``directory`` with ``parameters.variant`` set in ``metadata.json``.

    Another configuration chosen from the same trials: a different bundle digest, the same
    trial columns (so registering both counts their trials once).
    """
    shutil.copytree(bundle, directory)
    path = directory / EVIDENCE_FILES[EvidenceKind.METADATA]
    metadata = json.loads(path.read_text())
    metadata["parameters"]["variant"] = variant
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return directory


_CONSTANT_MODEL_CODE = """\
import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ConstantPosition(PythonModel):
    def load_context(self, context):
        self.position = float(context.model_config["position"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
        return pd.Series(self.position, index=model_input.index, name="target_position")


mlflow.models.set_model(ConstantPosition())
"""


def save_constant_model(directory: Path, position: float = 0.0) -> Path:
    """Save an MLflow pyfunc that maps any market data to the constant target ``position``.

    Input: a table of market data, one row per decision; output: one target position per row.
    The model is saved from code (no pickle). ``directory`` must not exist yet.
    """
    import mlflow.pyfunc

    with tempfile.TemporaryDirectory(prefix="stratops-model-code-") as scratch:
        code = Path(scratch) / "constant_position.py"
        code.write_text(_CONSTANT_MODEL_CODE)
        mlflow.pyfunc.save_model(
            path=str(directory),
            python_model=str(code),
            model_config={"position": position},
            pip_requirements=["mlflow", "pandas"],
        )
    return directory
