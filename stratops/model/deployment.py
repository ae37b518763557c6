"""A deployment as the controller and every runtime see it: what should run, what runs.

A deployment is identified by (strategy, stage). These are values: the planner and the
judge use them without importing a runtime adapter.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.model.base import Stage
from stratops.model.execution import ExecutionSettings
from stratops.model.strategy import HaltBehaviour


class Replay(BaseModel):
    """What a deployment replays: the dataset and window of its version's evidence, and the
    execution parameters its orders pay (the version's registered configuration)."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    start: str
    end: str
    execution: ExecutionSettings | None = Field(
        None, description="The version's execution parameters; None: the engine's defaults."
    )


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
    bars_done: int | None = Field(
        None,
        ge=0,
        description="Bars of market data the process reports done; None: it reported nothing.",
    )

    @property
    def key(self) -> tuple[str, Stage]:
        return self.spec.key


class TelemetrySource(BaseModel):
    """Where a deployment's telemetry is read: a local folder or an S3-compatible prefix."""

    model_config = ConfigDict(frozen=True)

    uri: str = Field(
        description="file:///... for a folder; s3://bucket/prefix for an S3-compatible store."
    )
    endpoint: str | None = Field(None, description="The S3-compatible endpoint; None: AWS.")

    @property
    def folder(self) -> Path | None:
        """The local folder of a ``file://`` source; None for an object store."""
        parsed = urlparse(self.uri)
        return Path(unquote(parsed.path)) if parsed.scheme == "file" else None
