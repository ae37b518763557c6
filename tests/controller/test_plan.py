"""The planner as a pure function over plain values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stratops.controller.plan import ActionKind, Blocked, desired_specs, plan, plan_tick
from stratops.model.aliases import ObservedAliases
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, DeploymentState, DeploymentStatus, Replay
from stratops.model.strategy import StrategyDeployment

COMMIT = "c0ffee"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def strategy(name: str = "btc-trend", **stages: dict[str, object]) -> StrategyDeployment:
    return StrategyDeployment.model_validate(
        {
            "apiVersion": "stratops.io/v1alpha1",
            "kind": "StrategyDeployment",
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


def running(
    spec: DeploymentSpec, state: DeploymentState = DeploymentState.RUNNING
) -> DeploymentStatus:
    return DeploymentStatus(spec=spec, state=state, since=T0, instance="1")


def observed_from(*specs: DeploymentSpec) -> dict[tuple[str, Stage], DeploymentStatus]:
    return {spec.key: running(spec) for spec in specs}


LIVE6_CANARY7 = strategy(
    live={"version": 6, "allocation": 1_000_000},
    canary={"version": 7, "allocation": 50_000, "analysis": "trend-canary"},
    paper={"version": 8},
)


def test_nothing_to_do_when_everything_matches() -> None:
    desired = desired_specs([LIVE6_CANARY7], COMMIT)
    aliases = {"btc-trend": {Stage.LIVE: 6, Stage.CANARY: 7, Stage.PAPER: 8}}
    assert plan(desired, observed_from(*desired.values()), aliases, COMMIT).empty


def test_fresh_desk_deploys_live_first_then_sets_aliases() -> None:
    desired = desired_specs([LIVE6_CANARY7], COMMIT)
    result = plan(desired, {}, {}, COMMIT)
    kinds = [(a.kind, a.stage) for a in result.actions]
    assert kinds == [
        (ActionKind.DEPLOY, Stage.LIVE),
        (ActionKind.DEPLOY, Stage.CANARY),
        (ActionKind.DEPLOY, Stage.PAPER),
        (ActionKind.SET_ALIAS, Stage.LIVE),
        (ActionKind.SET_ALIAS, Stage.CANARY),
        (ActionKind.SET_ALIAS, Stage.PAPER),
    ]


def test_promotion_replaces_live_before_removing_the_canary() -> None:
    before = desired_specs([LIVE6_CANARY7], "old")
    after = desired_specs(
        [strategy(live={"version": 7, "allocation": 1_000_000}, paper={"version": 8})], COMMIT
    )
    aliases = {"btc-trend": {Stage.LIVE: 6, Stage.CANARY: 7, Stage.PAPER: 8}}
    result = plan(after, observed_from(*before.values()), aliases, COMMIT)
    summary = [(a.kind, a.stage, a.version, a.from_version) for a in result.actions]
    assert summary == [
        (ActionKind.REPLACE, Stage.LIVE, 7, 6),
        (ActionKind.REMOVE, Stage.CANARY, None, 7),
        (ActionKind.SET_ALIAS, Stage.LIVE, 7, 6),
        (ActionKind.CLEAR_ALIAS, Stage.CANARY, None, 7),
    ]


def test_allocation_change_is_a_reallocation() -> None:
    desired = desired_specs([LIVE6_CANARY7], COMMIT)
    live = desired[("btc-trend", Stage.LIVE)]
    observed = observed_from(*desired.values())
    observed[live.key] = running(live.model_copy(update={"allocation": 500_000.0}))
    aliases = {"btc-trend": {Stage.LIVE: 6, Stage.CANARY: 7, Stage.PAPER: 8}}
    (action,) = plan(desired, observed, aliases, COMMIT).actions
    assert action.kind is ActionKind.REALLOCATE
    assert "500,000 → 1,000,000" in action.reason


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (DeploymentState.FAILED, [ActionKind.RESTART]),
        (DeploymentState.HALTED, []),
        (DeploymentState.CRASH_LOOP, []),  # backing off: no restart, no event per tick
    ],
)
def test_failed_restarts_and_halted_holds(
    state: DeploymentState, expected: list[ActionKind]
) -> None:
    desired = desired_specs([LIVE6_CANARY7], COMMIT)
    canary = desired[("btc-trend", Stage.CANARY)]
    observed = observed_from(*desired.values())
    observed[canary.key] = running(canary, state)
    aliases = {"btc-trend": {Stage.LIVE: 6, Stage.CANARY: 7, Stage.PAPER: 8}}
    assert [a.kind for a in plan(desired, observed, aliases, COMMIT).actions] == expected


def test_retired_strategy_is_removed_everywhere() -> None:
    before = desired_specs([LIVE6_CANARY7], "old")
    result = plan({}, observed_from(*before.values()), {"btc-trend": {Stage.LIVE: 6}}, COMMIT)
    assert [a.kind for a in result.actions] == [ActionKind.REMOVE] * 3 + [ActionKind.CLEAR_ALIAS]


def test_action_keys_are_stable_per_commit() -> None:
    desired = desired_specs([LIVE6_CANARY7], COMMIT)
    first = plan(desired, {}, {}, COMMIT)
    again = plan(desired, {}, {}, COMMIT)
    assert [a.key(COMMIT) for a in first.actions] == [a.key(COMMIT) for a in again.actions]
    assert len({a.key(COMMIT) for a in first.actions}) == len(first.actions)


def test_halt_and_rollback_are_actions_the_desired_state_planner_never_emits() -> None:
    assert {"halt", "open_rollback"} <= {kind.value for kind in ActionKind}
    desired = desired_specs([LIVE6_CANARY7], COMMIT)
    halted = {key: running(spec, DeploymentState.HALTED) for key, spec in desired.items()}
    for observed in (halted, {}):
        kinds = {a.kind for a in plan(desired, observed, {}, COMMIT).actions}
        assert kinds.isdisjoint({ActionKind.HALT, ActionKind.OPEN_ROLLBACK})


REPLAY = Replay(dataset="binance-1m", start="2024-08-01", end="2024-08-08")


def test_a_version_running_everywhere_replays_what_it_runs_without_asking_the_registry() -> None:
    specs = desired_specs([LIVE6_CANARY7], COMMIT, {("btc-trend", v): REPLAY for v in (6, 7, 8)})
    aliases = ObservedAliases({"btc-trend": {Stage.LIVE: 6, Stage.CANARY: 7, Stage.PAPER: 8}}, [])
    ticked = plan_tick(
        {"btc-trend": LIVE6_CANARY7}, observed_from(*specs.values()), aliases, {}, COMMIT
    )
    assert ticked.plan.empty and not ticked.blocked and not ticked.drift


def test_a_blocked_version_is_left_out_and_aliases_wait_for_the_registry() -> None:
    blocked = Blocked(8, "evidence_mismatch", "returns.parquet changed")
    evidence = {("btc-trend", 6): REPLAY, ("btc-trend", 7): None, ("btc-trend", 8): blocked}
    ticked = plan_tick({"btc-trend": LIVE6_CANARY7}, {}, None, evidence, COMMIT)
    assert ticked.blocked == {("btc-trend", Stage.PAPER): blocked}
    assert [(a.kind, a.stage) for a in ticked.plan.actions] == [
        (ActionKind.DEPLOY, Stage.LIVE),
        (ActionKind.DEPLOY, Stage.CANARY),
    ]
    live = ticked.plan.actions[0].spec
    assert live is not None and live.replay == REPLAY
