"""The promotion plan: which fields of a ``StrategyDeployment`` change, on which branch, why.

Pure: a plan is built from the desired state at the base commit and the request, and carries
everything the adapters need (the YAML edits, the branch, the commit message with trailers).

Promoting to ``paper`` sets ``paper.version``; to ``canary`` sets the canary entry (its analysis
template and minimum duration are kept, or taken from the request when there is no canary
yet); to ``live`` sets ``live: {version, allocation}`` and drops the canary entry of that
version. Only paper → canary → live is a promotion: skipping a stage or going back (a rollback,
done by reverting the promotion commit) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from stratops.gates.checks.stage import legal_transition
from stratops.gates.report import GateReport
from stratops.gitops.changes import ChangeKind, DesiredChange
from stratops.gitops.errors import IllegalTransition, MissingOption
from stratops.gitops.evaluation import GateRequest, stage_of
from stratops.gitops.history import ROLLBACK_OVERRIDE
from stratops.gitops.yaml_edit import DeleteKey, Edit, Scalar, SetValue
from stratops.model.base import STAGE_ORDER, DnsName, Duration, Stage
from stratops.model.policy import GatePolicy
from stratops.model.strategy import PaperStage, StrategyDeployment

BRANCH_PREFIX = "promote"
STAGE_KEYS = ("spec", "stages")
# The documented order of stage entries in a StrategyDeployment: live first.
ENTRY_ORDER = tuple(stage.value for stage in reversed(STAGE_ORDER))


class PromotionRequest(BaseModel):
    """What ``stratops promote`` was asked to do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: DnsName
    version: int = Field(ge=1)
    target_stage: Stage
    allocation: float | None = Field(None, gt=0, allow_inf_nan=False)
    analysis: DnsName | None = None
    min_duration: Duration | None = None
    reason: str = ""
    override_rollback: bool = Field(
        False,
        description="Bring back a version rolled back from canary: the commit names the "
        "rollback in a Rollback-Override trailer, for the reviewers to approve.",
    )


@dataclass(frozen=True)
class PromotionPlan:
    """The promotion as a desired-state change, and the YAML edits that make it."""

    change: DesiredChange
    edits: tuple[Edit, ...]

    @property
    def strategy(self) -> str:
        return self.change.strategy

    @property
    def version(self) -> int:
        assert self.change.to_version is not None
        return self.change.to_version

    @property
    def target_stage(self) -> Stage:
        return self.change.stage

    @property
    def branch(self) -> str:
        return promotion_branch(self.strategy, self.version, self.target_stage)

    @property
    def title(self) -> str:
        return f"Promote {self.strategy} v{self.version} to {self.target_stage.value}"

    @property
    def transition(self) -> str:
        current = self.change.current_stage
        source = current.value if current else "nowhere"
        return f"{source} → {self.target_stage.value} at allocation {self.change.allocation:,.0f}"

    def gate_request(self, as_of: datetime, policy: GatePolicy) -> GateRequest:
        return self.change.gate_request(as_of, policy)


def promotion_branch(strategy: str, version: int, stage: Stage) -> str:
    return f"{promotion_prefix(strategy)}v{version}-{stage.value}"


def promotion_prefix(strategy: str) -> str:
    """Every promotion branch of ``strategy`` starts with this."""
    return f"{BRANCH_PREFIX}/{strategy}/"


def plan_promotion(
    strategy: StrategyDeployment, request: PromotionRequest, analyses: tuple[str, ...] = ()
) -> PromotionPlan:
    """The plan for ``request`` against the desired state ``strategy`` at the base commit.

    ``analyses`` are the AnalysisTemplates the desk declares, named when ``--analysis`` is
    missing.
    """
    name, version, target = strategy.name, request.version, request.target_stage
    current = stage_of(strategy, version)
    if current is target:
        raise IllegalTransition(f"{name} v{version} already runs in {target.value}")
    ok, why = legal_transition(current, target, strategy.retired)
    if not ok:
        if current is not None and STAGE_ORDER.index(target) < STAGE_ORDER.index(current):
            raise IllegalTransition(
                f"{name} v{version} runs in {current.value}: moving it to {target.value} is a "
                "demotion, which is a rollback: revert the promotion commit instead"
            )
        raise IllegalTransition(f"{name} v{version}: {why}")
    entry = getattr(strategy.spec.stages, target.value)
    if entry is not None and entry.version > version:
        raise IllegalTransition(
            f"{name} runs v{entry.version} in {target.value}, newer than v{version}: replacing "
            "it with an older version is a rollback, not a promotion"
        )
    _require_options(strategy, request, entry is not None, analyses)
    allocation = request.allocation or (entry.allocation if entry is not None else None)
    if allocation is None:
        allocation = PaperStage.model_fields["allocation"].default
    change = DesiredChange(
        kind=ChangeKind.PROMOTION,
        strategy=name,
        strategy_type=strategy.spec.strategy_type,
        stage=target,
        from_version=entry.version if entry is not None else None,
        to_version=version,
        allocation=allocation,
        current_stage=current,
        retired=strategy.retired,
    )
    return PromotionPlan(change, _edits(strategy, request, entry is not None, allocation))


def _require_options(
    strategy: StrategyDeployment,
    request: PromotionRequest,
    exists: bool,
    analyses: tuple[str, ...],
) -> None:
    """Every option the target stage needs and the desk cannot supply, named at once."""
    if exists or request.target_stage is Stage.PAPER:
        return
    missing = []
    if request.allocation is None:
        missing.append("--allocation: the capital in quote currency, e.g. 10000")
    if request.target_stage is Stage.CANARY and request.analysis is None:
        choices = ", ".join(sorted(analyses)) or "none declared in manifests/analysis/"
        missing.append(f"--analysis: one of {choices}")
    if missing:
        raise MissingOption(
            f"{strategy.name} has no {request.target_stage.value} entry to take them from; "
            "pass " + "; ".join(missing)
        )


def _number(value: float) -> int | float:
    """Integral amounts are written as integers (1000000, not 1000000.0)."""
    return int(value) if float(value).is_integer() else value


def _edits(
    strategy: StrategyDeployment, request: PromotionRequest, exists: bool, allocation: float
) -> tuple[Edit, ...]:
    target = request.target_stage
    path = (*STAGE_KEYS, target.value)
    fields: dict[str, Scalar] = {"version": request.version}
    if request.allocation is not None or (not exists and target is not Stage.PAPER):
        fields["allocation"] = _number(allocation)
    if target is Stage.CANARY:
        if request.analysis is not None:
            fields["analysis"] = request.analysis
        if request.min_duration is not None:
            fields["minDuration"] = request.min_duration
    edits: list[Edit] = (
        [SetValue((*path, key), value) for key, value in fields.items()]
        if exists
        else [SetValue(path, fields, order=ENTRY_ORDER)]
    )
    canary = strategy.spec.stages.canary
    if target is Stage.LIVE and canary is not None and canary.version == request.version:
        edits.append(DeleteKey((*STAGE_KEYS, Stage.CANARY.value)))
    return tuple(edits)


TRAILERS = ("Strategy", "Version", "Stage", "Evidence-Digest", "Gate-Report-Digest")


def commit_message(
    plan: PromotionPlan, report: GateReport, reason: str, override: str | None = None
) -> str:
    """Subject, what changes and why, and the trailers CI and the controller read.

    ``override``: the rollback commit of this version that the promotion overrides.
    """
    paragraphs = [plan.title, f"{plan.transition}; gates {report.verdict}."]
    if reason.strip():
        paragraphs.append(f"Reason: {reason.strip()}")
    values = (
        plan.strategy,
        str(plan.version),
        plan.target_stage.value,
        report.inputs.evidence_digest,
        report.digest,
    )
    trailers = list(zip(TRAILERS, values, strict=True))
    if override is not None:
        trailers.append((ROLLBACK_OVERRIDE, override))
    paragraphs.append("\n".join(f"{key}: {value}" for key, value in trailers))
    return "\n\n".join(paragraphs) + "\n"


def pull_request_body(
    plan: PromotionPlan, report: GateReport, reason: str, override: str | None = None
) -> str:
    """The PR description: the transition, the reason, an override, and the gate report."""
    lines = [f"**{plan.title}**: {plan.transition}.", ""]
    if reason.strip():
        lines += [f"Reason: {reason.strip()}", ""]
    if override is not None:
        lines += [
            f"**Overrides the rollback** `{override[:12]}`: v{plan.version} was rolled back "
            "from canary after a failed analysis; approving this PR approves its return.",
            "",
        ]
    return "\n".join(lines) + "\n" + report.markdown()
