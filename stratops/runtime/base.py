"""The runtime interface: list, deploy, halt, remove, health, telemetry.

A deployment is identified by (strategy, stage); its values (:mod:`stratops.model.deployment`)
are the model's. Implementations are adapters: vendor types and exceptions stay inside them,
callers see those values and the :class:`RuntimeFailure` family.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, DeploymentStatus, TelemetrySource
from stratops.model.strategy import HaltBehaviour
from stratops.unavailable import Unavailable


def paper_arguments(spec: DeploymentSpec) -> list[str]:
    """``paper run`` options of a deployment, the same for every runtime."""
    replay = spec.replay
    data = (
        []
        if replay is None
        else ["--data", replay.dataset, "--start", replay.start, "--end", replay.end]
    )
    settings = None if replay is None else replay.execution
    execution = [] if settings is None else ["--execution", settings.to_json()]
    return ["--model-uri", spec.model_uri, "--allocation", repr(spec.allocation), *data, *execution]


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

    def halt(
        self,
        strategy: str,
        stage: Stage,
        *,
        actor: str,
        reason: str,
        mode: HaltBehaviour | None = None,
    ) -> DeploymentStatus:
        """Stop trading, apply the halt behaviour, keep the deployment (state HALTED).

        The deployment's process receives the command and applies ``mode`` (flatten,
        reduce-only, hold; ``spec.halt`` when None); the status tells what it acknowledged and
        the resulting positions.
        """
        ...

    def remove(self, strategy: str, stage: Stage, *, actor: str, reason: str) -> None:
        """Stop and forget the deployment; no error when it does not exist."""
        ...

    def health(self) -> RuntimeHealth: ...

    def telemetry(self, spec: DeploymentSpec) -> TelemetrySource:
        """Where the deployment of ``spec`` writes its telemetry, for the telemetry reader."""
        ...

    def telemetry_folder(self, spec: DeploymentSpec) -> Path:
        """A local folder holding that telemetry now, for the readers that take a folder.

        The local runtime's own folder; the Kubernetes runtime's mirror of the bucket prefix,
        brought up to date by the call. :class:`RuntimeUnavailable` when the store cannot be
        read, :class:`RuntimeRejected` when the runtime is not configured to read it.
        """
        ...
