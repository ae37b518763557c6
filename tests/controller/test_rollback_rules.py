"""The pure rules of rollbacks: one action per failed analysis, and who may come back."""

from __future__ import annotations

from datetime import UTC, datetime

from rollbacks import failed_analysis

from stratops.controller.authorize import reentry
from stratops.controller.plan import ActionKind, rollback_actions
from stratops.gitops.history import PromotionCommit, RollbackCommit
from stratops.model.base import Stage

BACK = RollbackCommit("r" * 40, "btc-trend", 1, Stage.CANARY, "m" * 40, "d" * 64)


def promotion(version: int, override: str | None = None) -> PromotionCommit:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return PromotionCommit("p" * 40, at, "btc-trend", version, Stage.CANARY, "g" * 64, override)


def test_one_action_per_failed_analysis_whatever_main_commit() -> None:
    first, other = failed_analysis(run="one"), failed_analysis(run="two")
    actions = rollback_actions([first, first, other])
    assert [a.kind for a in actions] == [ActionKind.OPEN_ROLLBACK] * 2
    assert [a.rollback for a in actions] == [first, other]
    assert actions[0].key("a" * 40) == actions[0].key("b" * 40)  # the same work
    assert actions[0].key("a" * 40) != actions[1].key("a" * 40)
    assert "failureLimit 3" in actions[0].reason


def test_a_rolled_back_version_needs_a_new_version_or_the_override() -> None:
    assert reentry("btc-trend", Stage.CANARY, 1, [], []) is None  # never rolled back
    assert reentry("btc-trend", Stage.CANARY, 2, [promotion(2)], [BACK]) is None  # new version
    refused = reentry("btc-trend", Stage.CANARY, 1, [promotion(1)], [BACK])
    assert refused is not None and refused.code == "rolled_back" and refused.commit == "p" * 40
    assert f"Rollback-Override: {BACK.sha}" in refused.reason
    live = reentry("btc-trend", Stage.LIVE, 1, [], [BACK])
    assert live is not None and "enters live again" in live.reason
    stale = reentry("btc-trend", Stage.CANARY, 1, [promotion(1, "x" * 40)], [BACK])
    assert stale is not None  # an override must name the latest rollback
    assert reentry("btc-trend", Stage.CANARY, 1, [promotion(1, BACK.sha)], [BACK]) is None
