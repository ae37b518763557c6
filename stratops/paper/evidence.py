"""Write a backtest as an evidence bundle in the registry's format.

Files and columns follow :mod:`stratops.model.evidence` (``EVIDENCE_FILES``,
``PARQUET_COLUMNS``): ``metadata.json`` (camelCase keys), ``data_quality.json``,
``returns.parquet``, ``trades.parquet``, ``latency.parquet`` and ``trials.parquet``. No
manifest: the registry computes it from the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from stratops.model.evidence import (
    EVIDENCE_FILES,
    DataRange,
    EvidenceKind,
    EvidenceMetadata,
)
from stratops.paper.datasets import DATASETS
from stratops.paper.engine import Session
from stratops.paper.marketdata.schema import NS_PER_SECOND, format_step, iso_utc
from stratops.telemetry.schema import TS
from stratops.telemetry.writer import write_table

SECONDS_PER_YEAR = 365 * 86_400

TRADE_COLUMNS = (
    "timestamp",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "decision_time",
    "data_time",
    "arrival_price",
    "market_volume",
)


def evidence_metadata(
    session: Session,
    *,
    strategy_type: str,
    parameters: dict[str, Any],
    trials: int,
    code_commit: str | None,
) -> EvidenceMetadata:
    """``metadata.json`` of a backtest session."""
    market = session.market
    return EvidenceMetadata(
        strategy_type=strategy_type,
        symbols=list(market.symbols),
        venue=market.venue,
        code_commit=code_commit,
        parameters=parameters,
        data_range=DataRange(
            start=iso_utc(int(market.ts[0])), end=iso_utc(int(market.ts[-1] + market.step_ns))
        ),
        periods_per_year=SECONDS_PER_YEAR * NS_PER_SECOND / market.step_ns,
        trials=trials,
        allocation=session.config.allocation,
        dataset=market.name if market.name in DATASETS else None,
        bar=format_step(market.step_ns),
    )


def _json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_evidence(
    folder: Path,
    session: Session,
    metadata: EvidenceMetadata,
    trials: pd.DataFrame,
) -> dict[str, Path]:
    """Write the six files of an evidence bundle.

    Parameters
    ----------
    folder
        Bundle folder (created if missing).
    session
        A finished backtest of the chosen configuration.
    metadata
        From :func:`evidence_metadata`; ``trials`` must equal the trial columns.
    trials
        ``timestamp`` + one column of daily net returns per configuration tried.

    Returns
    -------
    dict of str to Path
        The file written for each evidence kind.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind.value: folder / name for kind, name in EVIDENCE_FILES.items()}
    _json(paths[EvidenceKind.METADATA], metadata.model_dump(mode="json", by_alias=True))
    quality = session.market.quality.to_evidence()
    _json(paths[EvidenceKind.DATA_QUALITY], quality.model_dump(mode="json", by_alias=True))
    portfolio = session.portfolio()
    returns = pa.table(
        {
            "timestamp": pa.array(portfolio.close_ts, TS),
            "gross": portfolio.gross,
            "net": portfolio.net,
            "gross_exposure": portfolio.gross_exposure,
        }
    )
    write_table(returns, paths[EvidenceKind.RETURNS])
    tables = session.tables()
    fills = tables["fills"].rename_columns(
        ["timestamp" if n == "ts" else n for n in tables["fills"].column_names]
    )
    write_table(fills.select(list(TRADE_COLUMNS)), paths[EvidenceKind.TRADES])
    write_table(
        tables["latency"].select(["tick_to_order_ms", "ts", "symbol"]), paths[EvidenceKind.LATENCY]
    )
    trial_columns = {
        name: pa.array(trials[name].to_numpy(dtype="float64")) for name in trials.columns[1:]
    }
    trial_table = pa.table(
        {"timestamp": pa.array(trials["timestamp"].astype("int64").to_numpy(), TS), **trial_columns}
    )
    write_table(trial_table, paths[EvidenceKind.TRIALS])
    return paths
