"""``StrategyDeployment``: the desired state of one strategy, declared in Git."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from stratops.model.base import STAGE_ORDER, DnsName, Document, Duration, Spec, Stage, StrategyType

SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}/[A-Z0-9]{2,20}(:[A-Z0-9]{2,20})?$"
Symbol = Annotated[
    str,
    Field(
        pattern=SYMBOL_PATTERN,
        description="BASE/QUOTE in capitals, with :SETTLE for derivatives (e.g. BTC/USDT, "
        "BTC/USDT:USDT).",
    ),
]
MAX_VERSION = 2**31 - 1  # MLflow stores versions as 32-bit integers
Version = Annotated[
    int, Field(ge=1, le=MAX_VERSION, description="The MLflow model version number.")
]
Allocation = Annotated[
    float,
    Field(gt=0, allow_inf_nan=False, description="Capital allocation, quote-currency notional."),
]


class PaperStage(Spec):
    """Paper trading: the version runs against live (replayed) data without capital."""

    version: Version
    allocation: Allocation = Field(
        100_000.0, description="Notional the paper engine simulates (no real capital)."
    )


class CanaryStage(Spec):
    """A canary: real but small capital, analysed against market context."""

    version: Version
    allocation: Allocation
    analysis: DnsName = Field(description="Name of the AnalysisTemplate judging the canary.")
    min_duration: Duration = Field("24h", description="Minimum canary run before promotion.")


class LiveStage(Spec):
    """Live: the desk's capital, guarded by the ``haltOn`` conditions of an AnalysisTemplate."""

    version: Version
    allocation: Allocation
    analysis: DnsName | None = Field(
        None,
        description="Name of the AnalysisTemplate whose haltOn conditions guard the live "
        "deployment; unset, the template the version passed its canary analysis with.",
    )


class Stages(Spec):
    """What runs in each stage; a strategy with no stage left is retired."""

    paper: PaperStage | None = None
    canary: CanaryStage | None = None
    live: LiveStage | None = None

    def items(self) -> list[tuple[Stage, PaperStage | CanaryStage | LiveStage]]:
        """The stages present, in promotion order."""
        present: list[tuple[Stage, PaperStage | CanaryStage | LiveStage]] = []
        for stage in STAGE_ORDER:  # a tuple: iterating the enum costs more, every tick
            entry = getattr(self, stage.value)
            if entry is not None:
                present.append((stage, entry))
        return present

    @model_validator(mode="after")
    def _canary_is_not_live(self) -> Stages:
        if self.canary and self.live and self.canary.version == self.live.version:
            raise ValueError(
                f"canary and live both run version {self.live.version}: a canary must test "
                "a different version than the one live (drop the canary entry after promotion)"
            )
        return self


class RollbackPolicy(Spec):
    auto_merge: Literal["canary", "never"] = Field(
        "canary",
        description="canary: rollback PRs of a failing canary merge themselves; never: every "
        "rollback PR waits for a human.",
    )


class HaltBehaviour(StrEnum):
    FLATTEN = "flatten"
    REDUCE_ONLY = "reduce_only"
    HOLD = "hold"


class StrategyDeploymentSpec(Spec):
    strategy_type: StrategyType
    venue: DnsName
    symbols: list[Symbol] = Field(min_length=1)
    owners: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1)
    stages: Stages = Field(default_factory=Stages)
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy)
    halt: HaltBehaviour = Field(
        HaltBehaviour.FLATTEN, description="What a halt does to the open position."
    )

    @model_validator(mode="after")
    def _unique_symbols(self) -> StrategyDeploymentSpec:
        duplicated = sorted({s for s in self.symbols if self.symbols.count(s) > 1})
        if duplicated:
            raise ValueError(f"symbols must be unique, repeated: {', '.join(duplicated)}")
        return self


class StrategyDeployment(Document):
    """Desired state of one strategy; ``metadata.name`` is the strategy name."""

    kind: Literal["StrategyDeployment"] = "StrategyDeployment"
    spec: StrategyDeploymentSpec

    @property
    def retired(self) -> bool:
        return not self.spec.stages.items()
