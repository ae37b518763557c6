"""The promotion plan: which fields of a ``StrategyDeployment`` change, on which branch, why.

Pure: a plan is built from the desired state at the base commit and the request, and carries
everything the adapters need (the YAML edits, the branch, the commit message with trailers).

Promoting to ``paper`` sets ``paper.version``; to ``canary`` sets the canary entry (its analysis
template and minimum duration are kept, or taken from the request when there is no canary
yet); to ``live`` sets ``live: {version, allocation, analysis}`` and drops the canary entry
of that version (``analysis``, whose ``haltOn`` guards the live deployment, is the canary's
template unless the request names one). Only paper → canary → live is a promotion: skipping a
stage or going back (a rollback, done by reverting the promotion commit) is refused.

A reallocation (:func:`plan_reallocation`) sets the allocation of the stage where a version
runs, on its own branch ``promote/<strategy>/v<version>-<stage>-allocation``: not gated, but a
raise needs the approvals of that stage (see :mod:`stratops.gitops.review`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from stratops.gates.checks.stage import legal_transition
from stratops.gates.report import GateReport
from stratops.gitops.changes import ChangeKind, DesiredChange
from stratops.gitops.errors import IllegalReallocation, IllegalTransition, MissingOption
from stratops.gitops.evaluation import GateRequest, stage_of
from stratops.gitops.history import ROLLBACK_OVERRIDE
from stratops.gitops.review import Requirements
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


class ReallocationRequest(BaseModel):
    """What ``stratops promote STRATEGY VERSION --allocation N`` (no ``--to``) was asked to do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: DnsName
    version: int = Field(ge=1)
    allocation: float = Field(gt=0, allow_inf_nan=False)
    stage: Stage | None = Field(None, description="Where; None: the highest stage running it.")
    expected: float | None = Field(
        None, description="The allocation the caller saw there: refused if main has another."
    )
    reason: str = ""


@dataclass(frozen=True)
class PromotionPlan:
    """The promotion (or reallocation) as a desired-state change, and the YAML edits."""

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
    def gated(self) -> bool:
        """A promotion is gated; a reallocation is not (its approvals are the review's)."""
        return self.change.kind is ChangeKind.PROMOTION

    @property
    def branch(self) -> str:
        branch = promotion_branch(self.strategy, self.version, self.target_stage)
        return branch if self.gated else f"{branch}-allocation"

    @property
    def title(self) -> str:
        if not self.gated:
            verb = "Raise" if self.change.raises_capital else "Cut"
            return (
                f"{verb} the {self.target_stage.value} allocation of {self.strategy} "
                f"v{self.version} to {self.change.allocation:,.0f}"
            )
        return f"Promote {self.strategy} v{self.version} to {self.target_stage.value}"

    @property
    def transition(self) -> str:
        if not self.gated:
            before = self.change.from_allocation
            assert before is not None and self.change.allocation is not None
            return (
                f"{self.target_stage.value} v{self.version}: allocation {before:,.0f} → "
                f"{self.change.allocation:,.0f}"
            )
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
        raise IllegalTransition(f"{name} v{version}: {why}{_live_hint(strategy, request)}")
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


def _live_hint(strategy: StrategyDeployment, request: PromotionRequest) -> str:
    """What ``--to live`` needs when the version is not the canary's."""
    if request.target_stage is not Stage.LIVE:
        return ""
    canary = strategy.spec.stages.canary
    if canary is None:
        return (
            f" ({strategy.name} has nothing in canary: only the canary's version goes live, "
            f"after its analysis passed; promote v{request.version} --to canary first)"
        )
    return f" (the canary runs v{canary.version}: only that version can go live)"


def plan_reallocation(strategy: StrategyDeployment, request: ReallocationRequest) -> PromotionPlan:
    """The plan setting the allocation of the stage where ``request.version`` runs.

    Without ``stage``, the highest stage running the version. Refused
    (:class:`IllegalReallocation`) when the version runs in no stage (or not in the one named),
    has another allocation than ``expected`` (when given), or already has that allocation.
    The policy's limits are checked on the edited desk, like every edit.
    """
    name, version = strategy.name, request.version
    running = strategy.spec.stages.items()
    where = ", ".join(f"{stage.value} v{entry.version}" for stage, entry in running) or "nothing"
    found = [(stage, entry) for stage, entry in running if entry.version == version]
    if request.stage is not None:
        found = [(stage, entry) for stage, entry in found if stage is request.stage]
    if not found:
        place = f" in {request.stage.value}" if request.stage is not None else ""
        raise IllegalReallocation(
            f"{name} runs no v{version}{place} (it runs {where}): --allocation without --to "
            "changes the capital of a version where it runs"
        )
    stage, entry = found[-1]  # the highest: paper trades no capital, canary and live do
    if request.expected is not None and entry.allocation != request.expected:
        raise IllegalReallocation(
            f"{name} v{version} has allocation {entry.allocation:,.0f} in {stage.value} on "
            f"main, not the {request.expected:,.0f} this change was planned from"
        )
    if entry.allocation == request.allocation:
        raise IllegalReallocation(
            f"{name} v{version} already has allocation {entry.allocation:,.0f} in "
            f"{stage.value}: nothing to change"
        )
    change = DesiredChange(
        kind=ChangeKind.REALLOCATION,
        strategy=name,
        strategy_type=strategy.spec.strategy_type,
        stage=stage,
        from_version=version,
        to_version=version,
        allocation=request.allocation,
        current_stage=stage,
        retired=False,
        from_allocation=entry.allocation,
    )
    edit = SetValue((*STAGE_KEYS, stage.value, "allocation"), _number(request.allocation))
    return PromotionPlan(change, (edit,))


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
    canary = strategy.spec.stages.canary
    graduates = target is Stage.LIVE and canary is not None and canary.version == request.version
    if target is Stage.CANARY:
        if request.analysis is not None:
            fields["analysis"] = request.analysis
        if request.min_duration is not None:
            fields["minDuration"] = request.min_duration
    elif target is Stage.LIVE:  # the live guardrails: the canary's template unless named
        named = request.analysis or (canary.analysis if graduates and canary else None)
        if named is not None:
            fields["analysis"] = named
    edits: list[Edit] = (
        [SetValue((*path, key), value) for key, value in fields.items()]
        if exists
        else [SetValue(path, fields, order=ENTRY_ORDER)]
    )
    if graduates:
        edits.append(DeleteKey((*STAGE_KEYS, Stage.CANARY.value)))
    return tuple(edits)


TRAILERS = ("Strategy", "Version", "Stage", "Evidence-Digest", "Gate-Report-Digest")
REALLOCATION_TRAILERS = ("Strategy", "Version", "Stage", "Allocation")


def commit_message(
    plan: PromotionPlan, report: GateReport | None, reason: str, override: str | None = None
) -> str:
    """Subject, what changes and why, and the trailers CI and the controller read.

    A reallocation (``report`` None) has no gate report: its trailers name the allocation,
    and without ``Gate-Report-Digest`` it is never taken for a promotion commit.
    ``override``: the rollback commit of this version that the promotion overrides.
    """
    verdict = "not gated" if report is None else f"gates {report.verdict}"
    paragraphs = [plan.title, f"{plan.transition}; {verdict}."]
    if reason.strip():
        paragraphs.append(f"Reason: {reason.strip()}")
    head = (plan.strategy, str(plan.version), plan.target_stage.value)
    if report is None:
        assert plan.change.allocation is not None
        pairs = zip(
            REALLOCATION_TRAILERS, (*head, str(_number(plan.change.allocation))), strict=True
        )
    else:
        digests = (report.inputs.evidence_digest, report.digest)
        pairs = zip(TRAILERS, (*head, *digests), strict=True)
    trailers = list(pairs)
    if override is not None:
        trailers.append((ROLLBACK_OVERRIDE, override))
    paragraphs.append("\n".join(f"{key}: {value}" for key, value in trailers))
    return "\n\n".join(paragraphs) + "\n"


def pull_request_body(
    plan: PromotionPlan, report: GateReport, reason: str, override: str | None = None
) -> str:
    """The PR description: the transition, the reason, an override, and the gate report."""
    lines = []
    if override is not None:
        lines += [
            f"**Overrides the rollback** `{override[:12]}`: v{plan.version} was rolled back "
            "from canary after a failed analysis; approving this PR approves its return.",
            "",
        ]
    return _opening(plan, reason) + "\n".join(lines) + ("\n" if lines else "") + report.markdown()


def reallocation_body(plan: PromotionPlan, reason: str, policy: GatePolicy) -> str:
    """The PR description of a reallocation: the approvals it needs and the policy's limit."""
    stage = plan.target_stage
    approvals = Requirements.of([plan.change], policy).approvals
    if plan.change.raises_capital:
        needed = f"{approvals}, as for a promotion to {stage.value}"
    else:
        needed = f"{approvals}, a cut reduces risk"
    limits = policy.spec.max_allocation.get(plan.change.strategy_type)
    limit = limits.for_stage(stage) if limits is not None else None
    bound = "none" if limit is None else f"{limit:,.0f}"
    lines = [
        "A reallocation is not gated: the version keeps the evidence its promotion was gated on.",
        "",
        f"- approvals needed (policy `{policy.name}`): {needed}",
        f"- policy limit for {plan.change.strategy_type.value} in {stage.value}: {bound}",
    ]
    return _opening(plan, reason) + "\n".join(lines) + "\n"


def _opening(plan: PromotionPlan, reason: str) -> str:
    lines = [f"**{plan.title}**: {plan.transition}.", ""]
    if reason.strip():
        lines += [f"Reason: {reason.strip()}", ""]
    return "\n".join(lines) + "\n"
