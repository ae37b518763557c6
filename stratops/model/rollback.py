"""What a rollback pull request is opened from: the failed analysis of one deployment.

A value the canary judge fills and the ``OPEN_ROLLBACK`` plan action carries (the planner and
the judge import no adapter): the deployment, the digest of the failed ``AnalysisRun``, its
markdown report, the limit that tripped and what the halt did. A rollback under way is planned
again every tick from its pull request (:meth:`RollbackRequest.resumed`) until it is merged or
closed; the report is then the pull request's body.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from stratops.model.base import DnsName, Stage
from stratops.model.evidence import Sha256


class RollbackRequest(BaseModel):
    """Roll ``version`` of ``strategy`` back out of ``stage`` because its analysis failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: DnsName
    stage: Stage
    version: int = Field(ge=1)
    analysis_digest: Sha256 = Field(description="The digest of the failed AnalysisRun.")
    report: str = Field(description="The AnalysisRun's markdown report (measurements by regime).")
    tripped: str = Field(
        "", description="The limit that tripped: 'failed: 4 failed measurements > failureLimit 3'."
    )
    halt: str = Field("", description="What the halt did and what it cost, for people.")
    pull_request: int | None = Field(
        None, description="The rollback pull request already open (a rollback under way)."
    )

    @classmethod
    def resumed(
        cls, strategy: str, stage: Stage, version: int, digest: str, number: int, body: str
    ) -> RollbackRequest:
        """The request of a rollback whose pull request ``number`` is open with ``body``."""
        return cls(
            strategy=strategy,
            stage=stage,
            version=version,
            analysis_digest=digest,
            report=body,
            pull_request=number,
        )
