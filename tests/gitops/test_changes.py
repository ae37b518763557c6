"""Desired-state diffs: promotions are gated, rollbacks and reallocations only listed."""

from __future__ import annotations

from typing import Any

from stratops.gitops.changes import ChangeKind, desired_changes
from stratops.model.base import Stage
from stratops.model.strategy import StrategyDeployment


def strategy(name: str = "btc-trend", **stages: Any) -> StrategyDeployment:
    return StrategyDeployment.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "strategyType": "trend",
                "venue": "binance",
                "symbols": ["BTC/USDT"],
                "owners": ["research"],
                "stages": stages,
            },
        }
    )


LIVE3 = {"version": 3, "allocation": 1_000_000}
CANARY4 = {"version": 4, "allocation": 50_000, "analysis": "trend-canary"}
BASE = {"btc-trend": strategy(live=LIVE3, canary=CANARY4, paper={"version": 5})}


def summary(head: dict[str, StrategyDeployment]) -> list[tuple[str, str, str]]:
    return [(c.kind.value, c.strategy, c.describe()) for c in desired_changes(BASE, head)]


def test_canary_graduating_to_live_is_one_promotion() -> None:
    head = {"btc-trend": strategy(live={**LIVE3, "version": 4}, paper={"version": 5})}
    changes = desired_changes(BASE, head)
    assert [(c.kind, c.stage, c.to_version, c.current_stage) for c in changes] == [
        (ChangeKind.PROMOTION, Stage.LIVE, 4, Stage.CANARY)
    ]


def test_removals_and_older_versions_are_rollbacks() -> None:
    head = {"btc-trend": strategy(live=LIVE3, paper={"version": 4})}
    assert summary(head) == [
        ("rollback", "btc-trend", "paper: v5 → v4 @ 100,000"),
        ("rollback", "btc-trend", "canary: v4 → removed"),
    ]


def test_allocation_change_is_a_reallocation() -> None:
    head = {
        "btc-trend": strategy(
            live={**LIVE3, "allocation": 2_000_000}, canary=CANARY4, paper={"version": 5}
        )
    }
    assert summary(head) == [("reallocation", "btc-trend", "live: v3 → v3 @ 2,000,000")]


def test_new_and_deleted_strategies() -> None:
    head = {"eth-trend": strategy("eth-trend", paper={"version": 1})}
    assert summary(head) == [
        ("rollback", "btc-trend", "paper: v5 → removed"),
        ("rollback", "btc-trend", "canary: v4 → removed"),
        ("rollback", "btc-trend", "live: v3 → removed"),
        ("promotion", "eth-trend", "paper: - → v1 @ 100,000"),
    ]


def test_no_change_is_no_change() -> None:
    assert desired_changes(BASE, dict(BASE)) == []
