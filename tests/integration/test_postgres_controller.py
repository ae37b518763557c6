"""Register → promote → reconcile with the registry on MLflow + PostgreSQL, over REST.

The controller, the gates in CI and the paper processes all talk to the same tracking server;
nothing but the tracking URI differs from the embedded default.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow_backends import Backend

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "controller"))

from desks import Desk, make_desk, save_trend_model, stop_deployments

from stratops.model.base import Stage, StrategyType
from stratops.model.deployment import DeploymentState
from stratops.registry.synthetic import write_synthetic_bundle

pytestmark = pytest.mark.slow


@pytest.fixture
def desk(tmp_path: Path, postgres_mlflow: Backend) -> Iterator[Desk]:
    bundle = write_synthetic_bundle(tmp_path / "bundle", strategy_type=StrategyType.TREND)
    model = save_trend_model(tmp_path / "model")
    made = make_desk(tmp_path / "desk", postgres_mlflow.location, bundle, model, versions=1)
    yield made
    stop_deployments(made)


def test_promotion_reconciled_against_postgres(desk: Desk) -> None:
    assert desk.registry.location.tracking_uri.startswith("http://127.0.0.1:")
    first = desk.reconciler().tick()
    assert [a.kind.value for a in first.applied] == ["deploy", "set_alias"]
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    promoted = desk.reconciler().tick()
    assert not promoted.refused, promoted.refused
    states = {s.spec.stage: s.state for s in desk.runtime().list()}
    assert states == {Stage.PAPER: DeploymentState.RUNNING, Stage.CANARY: DeploymentState.RUNNING}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1, Stage.CANARY: 1}
