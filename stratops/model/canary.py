"""What the registry holds of a version's canary analysis, as the promotion gate sees it.

The registry stores a final :class:`~stratops.canary.AnalysisRun` as canonical JSON in an MLflow
run and tags the version with the run's id and digest. Reading it back it hands the gate a
:class:`CanaryAnalysisRecord`: the digest the tag recorded and the digest of the bytes stored
now, side by side, so the gate (pure) decides whether the analysis can be trusted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CanaryAnalysisRecord(BaseModel):
    """A version's logged canary analysis, as read from the registry (nothing verified yet)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(description="The MLflow run holding the analysis.")
    recorded_digest: str = Field(description="sha256 the version's tag recorded at logging.")
    stored_digest: str | None = Field(
        description="sha256 of the canonical JSON stored in the run now; None if unreadable."
    )
    strategy: str | None = Field(None, description="Strategy the stored analysis is of.")
    version: int | None = Field(None, description="Version the stored analysis is of.")
    phase: str | None = Field(None, description="Phase of the stored analysis.")
    reason: str = Field("", description="Its reason (the limit that tripped, or why it passed).")
    problem: str | None = Field(None, description="Why the stored analysis could not be read.")
