"""Values the registry returns: stratops models, never MLflow entities."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from stratops.model.base import Stage, StrategyType
from stratops.model.evidence import (
    DataQuality,
    EvidenceFile,
    EvidenceManifest,
    EvidenceMetadata,
    ModelFile,
)
from stratops.model.problems import Problem


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time zone is required (times are UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BundleFacts(Value):
    """Facts read from a bundle's Parquet files (not declared by the researcher)."""

    returns_rows: int
    returns_start: UtcDatetime | None
    returns_end: UtcDatetime | None
    return_days: int = Field(description="Distinct UTC dates with returns.")
    trades_rows: int
    latency_rows: int
    trial_columns: int
    trial_days: int


class Bundle(Value):
    """A valid evidence bundle on disk, with the manifest stratops computed for it."""

    root: Path
    manifest: EvidenceManifest
    metadata: EvidenceMetadata
    data_quality: DataQuality
    facts: BundleFacts

    @property
    def digest(self) -> str:
        return self.manifest.spec.digest


class StrategyVersion(Value):
    """A registered strategy version (MLflow model version) and what stratops knows of it.

    Fields stratops records are None for versions registered without stratops.
    """

    name: str
    version: int
    evidence_digest: str | None
    model_digest: str | None = Field(
        None, description="Digest of the model's files (stratops.model_digest)."
    )
    config_digest: str | None = Field(
        None,
        description="Digest of the configuration registered with it (stratops.config_digest); "
        "None: registered without one, the engine's default execution.",
    )
    strategy_type: StrategyType | None
    code_sha: str | None
    trials_declared: int | None
    trials_in_experiment: int | None
    trial_runs: tuple[str, ...] = Field(
        (), description="Backtest runs (MLflow run ids) of the bundle's trial columns."
    )
    aliases: tuple[str, ...] = ()
    run_id: str | None
    source: str
    created_at: UtcDatetime


class Registration(Value):
    """What :meth:`Registry.register` did: the version, and whether it created it.

    ``created`` is False when a version with the same evidence digest already existed.
    """

    version: StrategyVersion
    created: bool


class AliasChange(Value):
    """One entry of a strategy's alias history: who moved which stage, when, from what, why."""

    sequence: int = Field(ge=1, description="Position in the history; see ``entry`` for ties.")
    entry: str = Field(description="Unique id of the entry; orders concurrent writers.")
    strategy: str
    stage: Stage
    from_version: int | None = Field(description="Version the alias pointed at, None if unset.")
    to_version: int | None = Field(description="Version it points at now, None if cleared.")
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    at: UtcDatetime
    pull_request: int | None = Field(None, description="The merged PR the change applies.")
    approvers: list[str] = Field(default_factory=list, description="Who approved that PR.")


class EvidenceReport(Value):
    """Result of re-hashing a version's stored evidence."""

    strategy: str
    version: int
    digest: str = Field(description="Bundle digest recorded in the version's tag.")
    files: list[EvidenceFile] = Field(description="Entries recomputed from the stored bytes.")
    model_digest: str | None = Field(None, description="Model digest recorded in its tag.")
    model_files: list[ModelFile] = Field(
        [], description="Model entries recomputed from the stored bytes."
    )
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


class EvidenceSummary(Value):
    """What ``stratops evidence show`` prints: a verified bundle's files and facts."""

    strategy: str
    version: int
    digest: str
    files: list[EvidenceFile]
    metadata: EvidenceMetadata
    data_quality: DataQuality
    facts: BundleFacts


class LoggedReport(Value):
    """A report stored with a version (``stratops report --log-to-registry``)."""

    strategy: str
    version: int
    folder: str = Field(description="Its folder under reports/: <stage>-<from>-<to>.")
    files: tuple[str, ...] = Field(description="The file names in the folder, sorted.")
