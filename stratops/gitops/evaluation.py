"""The contract between gitops and whatever evaluates the gates of a promotion.

gitops decides *what* is promoted (strategy, version, stage, allocation, from which stage, with
which policy, as of when); a :data:`GateEvaluator` loads the evidence of that version (from the
registry) and returns the gate report. ``stratops promote`` and ``stratops gates check`` build
the same :class:`GateRequest` for the same commit, so CI and the controller recompute the same
report. An evaluator raises :class:`~stratops.gitops.errors.UnknownVersion` when the registry
has no such version; any other failure is its own error.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.gates.report import GateReport
from stratops.model.base import Stage, StrategyType
from stratops.model.policy import GatePolicy
from stratops.model.strategy import StrategyDeployment


class GateRequest(BaseModel):
    """Everything gitops knows about a promotion; the evaluator adds the evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    strategy_type: StrategyType
    version: int = Field(ge=1)
    current_stage: Stage | None = Field(
        description="Stage the version runs in at the base commit; None when nowhere."
    )
    target_stage: Stage
    allocation: float = Field(gt=0, description="Allocation in the target stage.")
    retired: bool = Field(description="The strategy had no stage left at the base commit.")
    as_of: AwareDatetime = Field(description="Author date of the promotion commit.")
    policy: GatePolicy


GateEvaluator = Callable[[GateRequest], GateReport]
"""Evaluate the gates of one promotion; raise ``UnknownVersion`` for an unregistered version."""


def stage_of(strategy: StrategyDeployment | None, version: int) -> Stage | None:
    """The highest stage running ``version`` of ``strategy``, None if it runs nowhere."""
    if strategy is None:
        return None
    running = [stage for stage, entry in strategy.spec.stages.items() if entry.version == version]
    return running[-1] if running else None  # items() are in promotion order
