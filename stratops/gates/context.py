"""What a gate evaluation needs besides evidence and policy, all explicit inputs.

Time-dependent checks (staleness, minimum time in stage) read ``as_of``, never the wall clock:
for a promotion it is the time of the promotion commit, so CI and the controller agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.model.base import Stage, StrategyType
from stratops.model.canary import CanaryAnalysisRecord
from stratops.model.execution import ExecutionSettings


class GateContext(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    version: int = Field(ge=1)
    strategy_type: StrategyType
    target_stage: Stage
    allocation: float = Field(gt=0, description="Allocation requested in the target stage.")
    as_of: AwareDatetime
    current_stage: Stage | None = Field(
        None, description="Stage the version runs in now; None when it runs nowhere."
    )
    in_stage_since: AwareDatetime | None = Field(
        None, description="When the version entered its current stage."
    )
    retired: bool = Field(False, description="The strategy has no stage left.")
    registry_trials: int | None = Field(
        None, ge=1, description="Trials the registry counted in the strategy's experiment."
    )
    canary_analysis: CanaryAnalysisRecord | Literal["passed", "failed"] | None = Field(
        None,
        description="The version's canary analysis as the registry holds it (the gate checks "
        "its digest), or an outcome the caller verified itself; None if none exists.",
    )
    open_breaks: int | None = Field(
        None,
        ge=0,
        description="The strategy's open and aged reconciliation breaks that block promotions "
        "(stratops.ops.reconciliation.lifecycle.blocking); None when not reconciled.",
    )
    execution: ExecutionSettings | None = Field(
        None,
        description="The execution parameters registered with the version (its deployments' "
        "orders pay them); None: registered without, the engine's defaults.",
    )

    def digested(self) -> dict[str, object]:
        """The context as the report digests it: ``open_breaks`` and ``execution`` only once
        given, so reports of contexts without them keep the digests they had before."""
        unset = {name for name in ("open_breaks", "execution") if getattr(self, name) is None}
        return self.model_dump(mode="json", exclude=unset)

    def seconds_in_stage(self) -> float | None:
        if self.in_stage_since is None:
            return None
        return (self.as_of - self.in_stage_since).total_seconds()

    def age_seconds(self, moment: datetime) -> float:
        return (self.as_of - moment).total_seconds()
