"""Evaluate the gates of a promotion: evidence from the registry, context from Git.

``promote``, ``gates check`` and the controller all call :func:`evaluate_promotion`, so CI
and the controller compute the same report from the same commit. The context is built by the
pure :func:`promotion_context`:

- ``as_of`` is the author date of the promotion commit (never the wall clock);
- the current stage is the stage of the *base* desired state that runs the version;
- the time it entered that stage comes from the registry's alias history (the controller
  moves the alias when the deployment starts);
- the trial count is the one the registry recorded at registration.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.gates.context import GateContext
from stratops.gates.engine import evaluate
from stratops.gates.report import GateReport
from stratops.model.base import STAGE_ORDER, Stage
from stratops.model.policy import GatePolicy
from stratops.model.strategy import StrategyDeployment
from stratops.registry.arrays import load_evidence_arrays
from stratops.registry.bundle import scan_bundle
from stratops.registry.errors import NotFound
from stratops.registry.models import AliasChange, StrategyVersion
from stratops.registry.registry import Registry


class PromotionRequest(BaseModel):
    """One stage of one strategy moving to a version, as of a commit's author date."""

    model_config = ConfigDict(frozen=True)

    strategy: str
    version: int = Field(ge=1)
    target: Stage
    allocation: float = Field(gt=0)
    as_of: AwareDatetime


class UnknownVersion(Exception):
    """The registry has no such strategy version (or it carries no stratops evidence)."""

    def __init__(self, strategy: str, version: int, detail: str) -> None:
        super().__init__(f"{strategy} version {version} is not in the registry: {detail}")
        self.strategy = strategy
        self.version = version


def current_stage(base: StrategyDeployment | None, version: int) -> Stage | None:
    """The most advanced stage of ``base`` that runs ``version``, if any."""
    if base is None:
        return None
    running = [stage for stage, entry in base.spec.stages.items() if entry.version == version]
    return max(running, key=STAGE_ORDER.index) if running else None


def entered_stage_at(history: Sequence[AliasChange], stage: Stage, version: int) -> datetime | None:
    """When the registry alias of ``stage`` last moved to ``version``."""
    moves = [c.at for c in history if c.stage is stage and c.to_version == version]
    return moves[-1] if moves else None


def promotion_context(
    request: PromotionRequest,
    head: StrategyDeployment,
    base: StrategyDeployment | None,
    version: StrategyVersion,
    history: Sequence[AliasChange],
) -> GateContext:
    stage = current_stage(base, request.version)
    return GateContext(
        strategy=request.strategy,
        version=request.version,
        strategy_type=head.spec.strategy_type,
        target_stage=request.target,
        allocation=request.allocation,
        as_of=request.as_of,
        current_stage=stage,
        in_stage_since=None if stage is None else entered_stage_at(history, stage, request.version),
        retired=base is not None and base.retired,
        registry_trials=version.trials_in_experiment or None,
        canary_analysis=None,
    )


def evaluate_promotion(
    registry: Registry,
    policy: GatePolicy,
    request: PromotionRequest,
    head: StrategyDeployment,
    base: StrategyDeployment | None,
) -> GateReport:
    """The gate report of ``request``: verified evidence, explicit context, pure evaluation."""
    try:
        version = registry.get_version(request.strategy, request.version)
        history = registry.alias_history(request.strategy)
        with tempfile.TemporaryDirectory(prefix="stratops-gates-") as scratch:
            folder = registry.download_evidence(
                request.strategy, request.version, Path(scratch) / "evidence"
            )
            evidence = load_evidence_arrays(scan_bundle(folder, max_file_bytes=2**62))
    except NotFound as exc:
        raise UnknownVersion(request.strategy, request.version, exc.message) from exc
    context = promotion_context(request, head, base, version, history)
    return evaluate(evidence, policy, context)
