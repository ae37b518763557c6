"""``EvidenceManifest``: the content-addressed index of an evidence bundle.

stratops writes it; it never trusts a manifest or digest that a user supplies. The bundle
digest is the sha256 of the canonical JSON of the ``files`` list (see :mod:`canonical`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from stratops.model.base import Document, Spec

SHA256_PATTERN = r"^[0-9a-f]{64}$"
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]


class EvidenceKind(StrEnum):
    """The files of a bundle; each kind has one file name and format."""

    METADATA = "metadata"
    RETURNS = "returns"
    TRADES = "trades"
    DATA_QUALITY = "data_quality"
    LATENCY = "latency"
    TRIALS = "trials"


EVIDENCE_FILES: dict[EvidenceKind, str] = {
    EvidenceKind.METADATA: "metadata.json",
    EvidenceKind.RETURNS: "returns.parquet",
    EvidenceKind.TRADES: "trades.parquet",
    EvidenceKind.DATA_QUALITY: "data_quality.json",
    EvidenceKind.LATENCY: "latency.parquet",
    EvidenceKind.TRIALS: "trials.parquet",
}


class EvidenceFile(Spec):
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=200)]
    kind: EvidenceKind
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256


class EvidenceManifestSpec(Spec):
    files: list[EvidenceFile] = Field(min_length=1)
    digest: Sha256 = Field(description="sha256 of the canonical JSON of files.")

    @model_validator(mode="after")
    def _sorted_unique(self) -> EvidenceManifestSpec:
        paths = [f.path for f in self.files]
        if paths != sorted(set(paths)):
            raise ValueError("files must be sorted by path, each path once")
        return self


class EvidenceManifest(Document):
    kind: Literal["EvidenceManifest"] = "EvidenceManifest"
    spec: EvidenceManifestSpec


class ModelFile(Spec):
    """One file of a registered model folder: its path inside the folder, size and sha256."""

    path: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
            max_length=1000,
            description="POSIX path relative to the model folder.",
        ),
    ]
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256


class ModelManifestSpec(Spec):
    files: list[ModelFile] = Field(min_length=1)
    digest: Sha256 = Field(description="sha256 of the canonical JSON of files.")

    @model_validator(mode="after")
    def _sorted_unique(self) -> ModelManifestSpec:
        paths = [f.path for f in self.files]
        if paths != sorted(set(paths)):
            raise ValueError("files must be sorted by path, each path once")
        return self


class ModelManifest(Document):
    """The content-addressed index of a registered model folder (``python_model.pkl``, ...)."""

    kind: Literal["ModelManifest"] = "ModelManifest"
    spec: ModelManifestSpec


REQUIRED_KINDS: tuple[EvidenceKind, ...] = tuple(EvidenceKind)

ColumnType = Literal["timestamp", "float", "string"]


class ColumnSpec(Spec):
    name: str
    dtype: ColumnType
    required: bool = True
    description: str = ""


def _col(name: str, dtype: ColumnType, description: str, required: bool = True) -> ColumnSpec:
    return ColumnSpec(name=name, dtype=dtype, required=required, description=description)


# Parquet columns per file. Timestamps are UTC and strictly increasing where the file is a
# time series (returns, trials, latency has none); they mark the END of a period, so a period
# ending exactly at midnight belongs to the day before (stratops.analytics.returns.utc_day).
# Extra columns are allowed.
PARQUET_COLUMNS: dict[EvidenceKind, tuple[ColumnSpec, ...]] = {
    EvidenceKind.RETURNS: (
        _col("timestamp", "timestamp", "end of the period, UTC"),
        _col("gross", "float", "return of the period before costs, fraction of allocation"),
        _col("net", "float", "return of the period after fees, spread and impact"),
        _col("gross_exposure", "float", "sum of |position| over allocation (leverage)", False),
    ),
    EvidenceKind.TRADES: (
        _col("timestamp", "timestamp", "fill time, UTC"),
        _col("symbol", "string", "BASE/QUOTE"),
        _col("side", "string", "buy or sell"),
        _col("quantity", "float", "base quantity filled, > 0"),
        _col("price", "float", "fill price, > 0"),
        _col("fee", "float", "fee in quote currency"),
        _col("decision_time", "timestamp", "when the strategy decided, UTC", False),
        _col("data_time", "timestamp", "time of the newest market data the decision used", False),
        _col("arrival_price", "float", "mid when the order reached the venue", False),
        _col("market_volume", "float", "base volume the market traded in the fill's bar", False),
    ),
    EvidenceKind.LATENCY: (_col("tick_to_order_ms", "float", "tick-to-order latency, ms, >= 0"),),
    EvidenceKind.TRIALS: (
        _col(
            "timestamp",
            "timestamp",
            "end of the day (its closing midnight, UTC); one column per trial follows",
        ),
    ),
}


class DataRange(Spec):
    start: str = Field(description="First timestamp, ISO 8601 UTC.")
    end: str = Field(description="Last timestamp, ISO 8601 UTC.")


class EvidenceMetadata(Spec):
    """``metadata.json`` of a bundle."""

    strategy_type: str
    symbols: list[str] = Field(min_length=1)
    venue: str
    code_commit: str | None = Field(None, description="Commit of the strategy code.")
    parameters: dict[str, float | int | str | bool] = Field(default_factory=dict)
    data_range: DataRange
    periods_per_year: Annotated[float, Field(gt=0)] = Field(
        description="Periods of returns.parquet per year, e.g. 525600 for minutes."
    )
    trials: Annotated[int, Field(ge=1)] = Field(
        description="Configurations tried, this one included; columns of trials.parquet."
    )
    allocation: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="Capital the backtest simulated, quote notional; gates scale trade sizes "
        "from it to the target allocation (capacity).",
    )
    dataset: str | None = Field(
        None,
        description="Packaged dataset the backtest replayed (e.g. binance-1h); every "
        "deployment of the version replays the same dataset over dataRange.",
    )
    bar: str | None = Field(None, description="Bar size of the replayed data, e.g. 1h or 1m.")


class DataQuality(Spec):
    """``data_quality.json``: facts about the market data the evidence was computed on."""

    source: str = Field(min_length=1)
    start: str
    end: str
    rows: Annotated[int, Field(ge=0)]
    expected_rows: Annotated[int, Field(ge=0)]
    gaps: Annotated[int, Field(ge=0)]
    duplicates: Annotated[int, Field(ge=0)]
    max_staleness_seconds: Annotated[float, Field(ge=0)] = Field(
        description="Longest time without a new price in the dataset."
    )
    fingerprint: Sha256 = Field(description="sha256 of the dataset file(s) used.")
