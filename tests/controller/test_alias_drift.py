"""The registry is observed, not trusted: a stage alias moved by hand in MLflow is moved back."""

from __future__ import annotations

from desks import Desk
from mlflow.tracking import MlflowClient

from stratops.controller.plan import ActionKind
from stratops.model.base import Stage


def _client(desk: Desk) -> MlflowClient:
    return MlflowClient(desk.registry.location.tracking_uri)


def test_an_alias_moved_by_hand_is_moved_back_audited_and_counted(desk: Desk) -> None:
    reconciler = desk.reconciler()
    first = reconciler.tick()
    assert not first.failed and desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}

    # someone with EDIT rights in MLflow points @paper (and a new @live) elsewhere
    _client(desk).set_registered_model_alias("btc-trend", "paper", "2")
    _client(desk).set_registered_model_alias("btc-trend", "live", "2")

    preview = reconciler.preview()
    assert preview.plan is not None
    moves = {(a.kind, a.stage): a.reason for a in preview.plan.actions}
    assert moves[(ActionKind.SET_ALIAS, Stage.PAPER)].startswith(
        "moved outside Git (at v2, stratops set v1): "
    )
    assert moves[(ActionKind.CLEAR_ALIAS, Stage.LIVE)].startswith(
        "moved outside Git (at v2, stratops never set it): "
    )
    assert not [e for e in reconciler.audit.events() if e.action == "alias_drift"]  # preview

    fixed = reconciler.tick()
    assert not fixed.failed
    assert set(fixed.drift) == {("btc-trend", Stage.PAPER), ("btc-trend", Stage.LIVE)}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}
    drift = [e for e in reconciler.audit.events() if e.action == "alias_drift"]
    assert [(e.stage, e.version, e.details["recorded"]) for e in drift] == [
        ("paper", 2, 1),
        ("live", 2, None),
    ]
    metrics = reconciler.metrics.render().decode()
    assert 'stratops_alias_drift_total{stage="paper"} 1.0' in metrics
    assert 'stratops_alias_drift_total{stage="live"} 1.0' in metrics

    settled = reconciler.tick()  # moved back: no drift, no new event
    assert not settled.drift and settled.plan is not None and settled.plan.empty
    assert len([e for e in reconciler.audit.events() if e.action == "alias_drift"]) == 2


def test_the_controllers_own_alias_moves_are_not_drift(desk: Desk) -> None:
    reconciler = desk.reconciler()
    assert not reconciler.tick().drift
    assert not reconciler.tick().drift
    assert 'stratops_alias_drift_total{stage="paper"}' not in reconciler.metrics.render().decode()
