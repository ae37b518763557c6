"""What a canary ramp pull request is opened from: the passed analysis of one step.

A value the canary judge's adapter fills (:func:`stratops.controller.canaries.ramp_requests`)
and the ``OPEN_RAMP`` plan action carries (the planner imports no adapter): the canary, the
step that passed and the one it ramps to, and the digest of the passed ``AnalysisRun`` of the
current step. One pull request per passed step: the action is keyed by that digest.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from stratops.model.base import DnsName
from stratops.model.evidence import Sha256


class RampRequest(BaseModel):
    """Raise the canary of ``strategy`` ``version`` from ``current`` to step ``number``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: DnsName
    version: int = Field(ge=1)
    step: int = Field(ge=0, description="Index of the step that passed (its run's step).")
    number: int = Field(ge=1, description="The step ramped to, 1-based.")
    of: int = Field(ge=1, description="Steps of the template's ramp.")
    current: float = Field(gt=0, description="The allocation the passed step ran at.")
    allocation: float = Field(gt=0, description="The allocation of step ``number``.")
    analysis_digest: Sha256 = Field(description="The digest of the passed AnalysisRun.")
