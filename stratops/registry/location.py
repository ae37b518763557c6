"""Where MLflow is: one function decides, in one order.

1. the ``--tracking-uri`` flag,
2. else the ``MLFLOW_TRACKING_URI`` environment variable,
3. else the embedded default: a SQLite file and an artifact folder under ``.stratops/`` in the
   desk repository, which ``desk`` returns (asked only then: outside a desk, a command given a
   tracking URI still works).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
STATE_DIR = ".stratops"


class RegistryLocation(BaseModel):
    """An MLflow tracking URI and, for the embedded store only, its artifact root."""

    model_config = ConfigDict(frozen=True)

    tracking_uri: str
    artifact_root: Path | None = None
    source: str = "--tracking-uri"


def embedded_location(root: Path) -> RegistryLocation:
    state = root.resolve() / STATE_DIR
    return RegistryLocation(
        tracking_uri=f"sqlite:///{state / 'mlflow.db'}",
        artifact_root=state / "artifacts",
        source=f"embedded store under {state}",
    )


def resolve_location(
    tracking_uri: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    desk: Callable[[], Path],
) -> RegistryLocation:
    """The registry location: flag, else environment, else the embedded store of ``desk()``."""
    if tracking_uri:
        return RegistryLocation(tracking_uri=tracking_uri, source="--tracking-uri")
    from_env = environ.get(TRACKING_URI_ENV)
    if from_env:
        return RegistryLocation(tracking_uri=from_env, source=TRACKING_URI_ENV)
    return embedded_location(desk())
