"""The runtime interface: list, deploy, halt, remove, health.

A deployment is identified by (strategy, stage). Implementations are adapters: vendor types
and exceptions stay inside them, callers see these models and the :class:`RuntimeFailure` family.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.model.base import Stage
from stratops.model.strategy import HaltBehaviour
from stratops.unavailable import Unavailable


class Replay(BaseModel):
    """The market data a deployment replays: the dataset and window of its version's evidence."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    start: str
    end: str


class DeploymentSpec(BaseModel):
    """What should run for one (strategy, stage)."""

    model_config = ConfigDict(frozen=True)

    strategy: str
    stage: Stage
    version: int = Field(ge=1)
    allocation: float = Field(gt=0)
    model_uri: str
    strategy_type: str
    venue: str
    symbols: tuple[str, ...]
    halt: HaltBehaviour
    commit: str = Field(description="Desk commit the deployment was made from.")
    replay: Replay | None = Field(
        None, description="What the evidence was computed on; None: the engine's default."
    )

    @property
    def key(self) -> tuple[str, Stage]:
        return (self.strategy, self.stage)


def paper_arguments(spec: DeploymentSpec) -> list[str]:
    """``paper run`` options of a deployment, the same for every runtime."""
    replay = (
        []
        if spec.replay is None
        else ["--data", spec.replay.dataset, "--start", spec.replay.start, "--end", spec.replay.end]
    )
    return ["--model-uri", spec.model_uri, "--allocation", repr(spec.allocation), *replay]


class DeploymentState(StrEnum):
    RUNNING = "running"
    HALTED = "halted"
    FAILED = "failed"  # should run but does not (process died): restart it
    CRASH_LOOP = "crash_loop"  # keeps dying: backing off before the next restart


class DeploymentStatus(BaseModel):
    """What the runtime observes for one (strategy, stage)."""

    model_config = ConfigDict(frozen=True)

    spec: DeploymentSpec
    state: DeploymentState
    since: AwareDatetime
    instance: str = Field(description="Runtime-specific id: a pid, a Deployment uid.")
    detail: str = ""
    halted: HaltBehaviour | None = Field(
        None, description="The halt the deployment's process acknowledged; None: not halted."
    )
    positions: dict[str, float] = Field(
        default_factory=dict, description="Position per symbol, as the process last reported."
    )
    caught_up: bool = Field(False, description="The replay reached the end of its data.")

    @property
    def key(self) -> tuple[str, Stage]:
        return self.spec.key


class RuntimeHealth(BaseModel):
    ok: bool
    detail: str


class RuntimeFailure(Exception):
    """Base of runtime errors."""


class RuntimeUnavailable(RuntimeFailure, Unavailable):
    """The runtime cannot be reached or is overloaded: the same call may succeed later."""


class RuntimeRejected(RuntimeFailure):
    """The runtime refused the request (bad spec, permissions): retrying will not help."""


class Runtime(Protocol):
    name: str

    def list(self) -> list[DeploymentStatus]:
        """Every deployment this runtime manages."""
        ...

    def deploy(self, spec: DeploymentSpec, *, actor: str, reason: str) -> DeploymentStatus:
        """Make ``spec`` run, replacing what runs for its (strategy, stage); idempotent."""
        ...

    def halt(self, strategy: str, stage: Stage, *, actor: str, reason: str) -> DeploymentStatus:
        """Stop trading, apply the halt behaviour, keep the deployment (state HALTED).

        The deployment's process receives the command and applies ``spec.halt`` (flatten,
        reduce-only, hold); the status tells what it acknowledged and the resulting positions.
        """
        ...

    def remove(self, strategy: str, stage: Stage, *, actor: str, reason: str) -> None:
        """Stop and forget the deployment; no error when it does not exist."""
        ...

    def health(self) -> RuntimeHealth: ...
