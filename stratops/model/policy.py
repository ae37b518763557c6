"""``GatePolicy``: the desk's promotion criteria, per strategy type and target stage.

Check names are a closed vocabulary (the fields of :class:`Checks`); each check carries typed
thresholds and ``required`` (a check that is not required is reported but never blocks).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from stratops.model.base import (
    Document,
    Duration,
    Spec,
    Stage,
    StrategyType,
    duration_seconds,
)

Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fingerprint = Annotated[str, Field(pattern=r"^([0-9A-F]{40}|[0-9A-F]{64})$")]
TargetStage = Literal["canary", "live"]


class Check(Spec):
    required: bool = Field(True, description="A failing required check fails the gate.")


# data quality
class MinFractionCheck(Check):
    min: Fraction


class MaxCountCheck(Check):
    max: Count


class StalenessCheck(Check):
    max_age: Duration = Field(description="Oldest acceptable end of the evidence data, as-of.")


class OutliersCheck(Check):
    z_score: Positive = Field(
        10.0, description="A return beyond this many deviations is an outlier."
    )
    max_fraction: Fraction


class MinHistoryCheck(Check):
    min_days: Positive


# latency (thresholds come from GatePolicySpec.latency_budgets for the strategy type)
class LatencyCheck(Check):
    pass


# risk, as fractions of the capital allocation
class MaxFractionCheck(Check):
    max: Positive


class ExpectedShortfallCheck(Check):
    max: Positive = Field(description="Daily expected shortfall as a fraction of allocation.")
    level: Annotated[float, Field(gt=0.5, lt=1)] = 0.975


class CapacityCheck(Check):
    max_participation: Fraction = Field(
        description="Largest share of the traded market volume the strategy may take."
    )


# statistics
class PsrCheck(Check):
    min: Probability
    benchmark: float = Field(0.0, description="Benchmark Sharpe ratio, annualised.")


class DsrCheck(Check):
    min: Probability


class MinTrackRecordCheck(Check):
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95


class PboCheck(Check):
    max: Probability
    blocks: Annotated[int, Field(ge=4, le=20, multiple_of=2)] = 16


# stage rules
class StageOrderCheck(Check):
    pass


class MinTimeInStageCheck(Check):
    min_duration: Duration = Field(
        description="Time the version must have spent in the stage it leaves."
    )


class CanaryAnalysisCheck(Check):
    pass


# operations
class ReconciliationCheck(Check):
    max_open: Count = Field(
        0, description="Open or aged reconciliation breaks the strategy may have and promote."
    )


class Checks(Spec):
    """The checks of one (strategy type, target stage); an absent check is not evaluated.

    Check names are snake_case identifiers (as they appear in gate reports), not camelCase.
    """

    model_config = ConfigDict(alias_generator=None)

    coverage: MinFractionCheck | None = None
    gaps: MaxCountCheck | None = None
    duplicates: MaxCountCheck | None = None
    staleness: StalenessCheck | None = None
    outliers: OutliersCheck | None = None
    look_ahead: MaxCountCheck | None = None
    min_history: MinHistoryCheck | None = None
    latency: LatencyCheck | None = None
    max_drawdown: MaxFractionCheck | None = None
    expected_shortfall: ExpectedShortfallCheck | None = None
    leverage: MaxFractionCheck | None = None
    concentration: MaxFractionCheck | None = None
    capacity: CapacityCheck | None = None
    psr: PsrCheck | None = None
    dsr: DsrCheck | None = None
    min_track_record: MinTrackRecordCheck | None = None
    pbo: PboCheck | None = None
    stage_order: StageOrderCheck | None = None
    min_time_in_stage: MinTimeInStageCheck | None = None
    canary_analysis: CanaryAnalysisCheck | None = None
    reconciliation: ReconciliationCheck | None = None

    def configured(self) -> dict[str, Check]:
        """The checks present, by name, in declaration order."""
        return {
            name: value
            for name in type(self).model_fields
            if (value := getattr(self, name)) is not None
        }


class LatencyBudget(Spec):
    """Tick-to-order latency budget in milliseconds."""

    p50_ms: Positive
    p99_ms: Positive
    p999_ms: Positive

    @model_validator(mode="after")
    def _ordered(self) -> LatencyBudget:
        if not self.p50_ms <= self.p99_ms <= self.p999_ms:
            raise ValueError("expected p50Ms <= p99Ms <= p999Ms")
        return self


class StageAmounts(Spec):
    paper: Positive | None = None
    canary: Positive | None = None
    live: Positive | None = None

    def for_stage(self, stage: Stage) -> float | None:
        value: float | None = getattr(self, stage.value)
        return value


class Approvals(Spec):
    """Approvals a promotion PR needs, by target stage."""

    paper: Count = 0
    canary: Count = 1
    live: Count = 2

    def for_stage(self, stage: Stage) -> int:
        value: int = getattr(self, stage.value)
        return value


class PolicyOwners(Spec):
    """Who may change the desk's rules (the ``GatePolicy``, every ``AnalysisTemplate``)."""

    people: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="Reviewers whose approval of a rule change counts."
    )
    approvals: Annotated[int, Field(ge=1)] = Field(
        1, description="Approvals from owners, none of them the author, a rule change needs."
    )

    @model_validator(mode="after")
    def _enough_people(self) -> PolicyOwners:
        if self.approvals > len(self.people):
            raise ValueError(
                f"approvals ({self.approvals}) exceeds the number of people ({len(self.people)})"
            )
        return self


class Signatures(Spec):
    """Which commits count: signed by a key of the allowed-signers file (SSH) or, where the
    controller has a GnuPG keyring, by one of ``openpgpKeys``."""

    required: bool = Field(
        True,
        description="Refuse a promotion, merge or rule-change commit that no listed key signed.",
    )
    allowed_signers: str = Field(
        description="The allowed-signers file (git's gpg.ssh.allowedSignersFile format), a path "
        "in the desk repository; read from the rules in force, so changing it is a rule change.",
    )
    openpgp_keys: list[Fingerprint] = Field(
        default_factory=list,
        description="Fingerprints (upper-case hex) of OpenPGP keys whose signatures count too, "
        "checked with the controller's GnuPG keyring: GitHub's web-flow key for its merges.",
    )

    @model_validator(mode="after")
    def _inside_the_repository(self) -> Signatures:
        path = PurePosixPath(self.allowed_signers)
        if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in str(path):
            raise ValueError(
                f"allowedSigners {self.allowed_signers!r} must be a relative path inside the "
                "desk repository, like security/allowed_signers"
            )
        return self


class AllowedSignersSpec(Spec):
    path: str
    content: str


class AllowedSigners(Document):
    """The allowed-signers file a ``GatePolicy`` names, read from Git as a rule document.

    Never written as YAML: the desk at a commit carries it (:func:`stratops.gitops.snapshot.
    desk_at`), so a change of the file is a rule change that only the policy's owners approve.
    """

    kind: Literal["AllowedSigners"] = "AllowedSigners"
    spec: AllowedSignersSpec


class StageRules(Spec):
    canary: Checks | None = None
    live: Checks | None = None


class GatePolicySpec(Spec):
    approvals: Approvals = Field(default_factory=Approvals)
    approval_ttl: Duration = Field(
        "7d",
        description="How long an approval counts: one given longer before the merge is stale.",
    )
    owners: PolicyOwners | None = Field(
        None,
        description="Who may change the rules; absent: a change needs the approvals of a live "
        "promotion (at least one), from anyone but its author.",
    )
    signatures: Signatures | None = Field(
        None, description="Commit signatures the controller requires; absent: none."
    )
    latency_budgets: dict[StrategyType, LatencyBudget] = Field(default_factory=dict)
    max_allocation: dict[StrategyType, StageAmounts] = Field(
        default_factory=dict, description="Largest allocation per strategy type and stage."
    )
    rules: dict[StrategyType, StageRules] = Field(
        description="Checks per strategy type and target stage."
    )

    @model_validator(mode="after")
    def _latency_has_budget(self) -> GatePolicySpec:
        for strategy_type, stage_rules in self.rules.items():
            for stage in ("canary", "live"):
                checks: Checks | None = getattr(stage_rules, stage)
                if checks and checks.latency and strategy_type not in self.latency_budgets:
                    raise ValueError(
                        f"rules.{strategy_type.value}.{stage}.latency needs "
                        f"latencyBudgets.{strategy_type.value}"
                    )
        return self


class GatePolicy(Document):
    kind: Literal["GatePolicy"] = "GatePolicy"
    spec: GatePolicySpec

    @property
    def approval_ttl(self) -> timedelta:
        return timedelta(seconds=duration_seconds(self.spec.approval_ttl))
