"""The values of a canary analysis: :class:`Measurement` and :class:`AnalysisRun`.

An :class:`AnalysisRun` is a frozen value with a canonical JSON form and a sha256 digest, like a
gate report: the same inputs give the same bytes. It round-trips through
:meth:`AnalysisRun.to_storage` / :meth:`AnalysisRun.from_storage`, which is how the registry
keeps a passed run and how ``stratops canary analysis`` reads it back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.model.analysis import AnalysisTemplate, CanaryMetric, Regime
from stratops.model.canonical import canonical_digest, canonical_json, sha256_hex

RUN_FORMAT: Final = "stratops.canary-analysis/v1"
LIVE_FORMAT: Final = "stratops.live-guardrails/v1"  # a live deployment: only haltOn applies


class MeasurementPhase(StrEnum):
    """Outcome of one measurement, best to worst as Argo Rollouts orders them."""

    PASSED = "passed"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    FAILED = "failed"


class RunPhase(StrEnum):
    """Phase of an analysis run; every phase but ``running`` is final."""

    RUNNING = "running"
    PASSED = "passed"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self is not RunPhase.RUNNING


class RunAction(StrEnum):
    """What the controller does with the run at ``as_of`` (decisions are data, not prose).

    ``continue``: keep analysing. ``ramp``: a step passed, raise the allocation to the next
    step. ``promote``: the last (or only) step passed, live may be proposed. ``halt``: stop new
    risk at once (a ``haltOn`` tripped), then roll back. ``rollback``: open the rollback pull
    request. ``hold``: no new risk, keep the position, alert a person (error; inconclusive
    before its deadline, or after it with ``onInconclusive: hold``).
    """

    CONTINUE = "continue"
    RAMP = "ramp"
    PROMOTE = "promote"
    HALT = "halt"
    ROLLBACK = "rollback"
    HOLD = "hold"


class Measurement(BaseModel):
    """One metric over one trailing window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: CanaryMetric
    start: AwareDatetime = Field(description="Window start (inclusive).")
    end: AwareDatetime = Field(description="Window end (exclusive): the measurement's time.")
    value: float | None = Field(description="None when it could not be computed.")
    samples: int = Field(ge=0, description="Observations behind the value (fills, orders, ...).")
    regime: Regime
    shock: bool = Field(
        False, description="A volatility shock overlapped the window: judged as thin."
    )
    condition: Literal["max", "min"] | None = Field(
        description="None for a metric only named in haltOn."
    )
    threshold: float | None = Field(description="The threshold of the window's regime.")
    phase: MeasurementPhase
    halt: bool = Field(False, description="A haltOn condition tripped on this measurement.")
    note: str = Field("", description="Why the phase, for people.")
    telemetry_digest: str = Field(description="sha256 of the telemetry rows of the window.")


class AnalysisRun(BaseModel):
    """The analysis of one canary (strategy version, step) so far; with ``format``
    :data:`LIVE_FORMAT`, the guardrails of a live deployment (only the template's ``haltOn``
    conditions: running until one trips, then failed with ``halt``; only the latest window's
    measurements are kept)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["stratops.canary-analysis/v1", "stratops.live-guardrails/v1"] = RUN_FORMAT
    strategy: str
    version: int = Field(ge=1)
    template: str = Field(description="Name of the AnalysisTemplate.")
    template_digest: str = Field(description="sha256 of the template's canonical JSON.")
    step: int = Field(0, ge=0, description="Index of the allocation step analysed.")
    steps: int = Field(1, ge=1, description="Steps of the ramp (1 without steps).")
    allocation: float = Field(gt=0, description="Canary allocation the drawdown is a share of.")
    started: AwareDatetime = Field(description="When the canary (step) started.")
    as_of: AwareDatetime = Field(description="The judge's clock.")
    min_duration_seconds: float = Field(ge=0)
    phase: RunPhase
    reason: str = Field(description="The limit that decided, or what is still missing.")
    halt: bool = Field(False, description="A haltOn condition tripped.")
    decided_at: AwareDatetime | None = Field(
        None, description="End of the window whose measurement made the phase final."
    )
    action: RunAction
    measurements: tuple[Measurement, ...] = ()

    @cached_property
    def canonical(self) -> bytes:
        """The digested bytes: sorted keys, fixed significant digits."""
        return canonical_json(self.model_dump(mode="json"))

    @cached_property
    def digest(self) -> str:
        return sha256_hex(self.canonical)

    def to_storage(self) -> dict[str, Any]:
        """The run as plain JSON (the digested form)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_storage(cls, data: Any) -> AnalysisRun:
        """The run :meth:`to_storage` wrote; ``pydantic.ValidationError`` if it is not one."""
        return cls.model_validate(data)

    @property
    def live(self) -> bool:
        """A live deployment's guardrails: its ``haltOn`` conditions, no verdict."""
        return self.format == LIVE_FORMAT

    def measured_until(self) -> datetime | None:
        """End of the last window measured."""
        return self.measurements[-1].end if self.measurements else None


def template_digest(template: AnalysisTemplate) -> str:
    """sha256 of the template's canonical JSON (camelCase, as in the desk repository)."""
    return canonical_digest(template.model_dump(mode="json", by_alias=True))
