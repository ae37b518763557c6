"""Status rows: Git against the runtime, in Argo CD's vocabulary of sync and health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stratops.controller.audit import AuditLog
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, DeploymentState, DeploymentStatus
from stratops.model.reconciliation import BreakClass, Severity
from stratops.model.strategy import HaltBehaviour, StrategyDeployment
from stratops.ops.reconciliation.lifecycle import BreakRecord, BreakState
from stratops.status.rows import Health, Sync, TickView, age, open_breaks, status_rows

AT = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


def strategy(name: str, **stages: tuple[int, float]) -> StrategyDeployment:
    return StrategyDeployment.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "strategyType": "trend",
                "venue": "binance",
                "symbols": ["BTC/USDT"],
                "owners": ["desk"],
                "stages": {
                    stage: {"version": v, "allocation": a}
                    | ({"analysis": "trend-canary"} if stage == "canary" else {})
                    for stage, (v, a) in stages.items()
                },
            },
        }
    )


def running(
    name: str, stage: Stage, version: int, allocation: float, state: DeploymentState
) -> DeploymentStatus:
    spec = DeploymentSpec(
        strategy=name, stage=stage, version=version, allocation=allocation,
        model_uri="models:/x/1", strategy_type="trend", venue="binance",
        symbols=("BTC/USDT",), halt=HaltBehaviour.FLATTEN, commit="c" * 40,
    )  # fmt: skip
    return DeploymentStatus(spec=spec, state=state, since=AT, instance="4242", detail="")


def one(rows: list, key: str):  # type: ignore[no-untyped-def]
    [row] = [r for r in rows if r.key == key]
    return row


def test_sync_and_health_of_each_situation() -> None:
    declared = [
        strategy("a", paper=(2, 100_000), canary=(3, 10_000)),
        strategy("b", paper=(1, 50_000)),
        strategy("c", paper=(4, 1_000)),
        strategy("d", live=(5, 1_000)),
    ]
    observed = [
        running("a", Stage.PAPER, 2, 100_000, DeploymentState.RUNNING),
        running("b", Stage.PAPER, 1, 50_000, DeploymentState.CRASH_LOOP),
        running("c", Stage.PAPER, 3, 1_000, DeploymentState.RUNNING),
        running("e", Stage.PAPER, 1, 1_000, DeploymentState.HALTED),
    ]
    tick = TickView(
        refused={"a/canary": "v3 digest_mismatch: the gates moved"},
        pending={"c/paper": "replace: v4 declared"},
        blocked={"d/live": "v5 not_registered: no version 5"},
    )
    rows = status_rows(declared, observed, tick, [])
    assert [r.key for r in rows] == [
        "a/paper", "a/canary", "b/paper", "c/paper", "d/live", "e/paper",
    ]  # fmt: skip
    expect = {
        "a/paper": (Sync.SYNCED, Health.HEALTHY),
        "a/canary": (Sync.REFUSED, Health.MISSING),
        "b/paper": (Sync.SYNCED, Health.CRASH_LOOP),
        "c/paper": (Sync.OUT_OF_SYNC, Health.PROGRESSING),
        "d/live": (Sync.BLOCKED, Health.MISSING),
        "e/paper": (Sync.OUT_OF_SYNC, Health.HALTED),
    }
    assert {r.key: (r.sync, r.health) for r in rows} == expect
    assert one(rows, "a/canary").sync_reason == "v3 digest_mismatch: the gates moved"
    assert one(rows, "e/paper").sync_reason == "runs but is no longer declared"
    assert (one(rows, "e/paper").desired_version, one(rows, "e/paper").running_version) == (None, 1)


@pytest.mark.parametrize(
    ("running_as", "reason"),
    [
        (None, "declared, not running"),
        ((1, 100_000.0), "runs v1 @ 100,000, Git wants v2"),
        ((2, 5_000.0), "runs v2 @ 5,000, Git wants v2"),
    ],
)
def test_out_of_sync_without_a_plan_says_how(
    running_as: tuple[int, float] | None, reason: str
) -> None:
    observed = (
        []
        if running_as is None
        else [running("a", Stage.PAPER, *running_as, DeploymentState.RUNNING)]
    )
    [row] = status_rows([strategy("a", paper=(2, 100_000))], observed, TickView(), [])
    assert (row.sync, row.sync_reason) == (Sync.OUT_OF_SYNC, reason)


def test_the_last_event_is_the_rows_own_or_else_its_strategys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(key="1", at=AT, actor="c", action="deploy", reason="r", strategy="a", stage="paper")
    later = AT + timedelta(minutes=5)
    log.append(key="2", at=later, actor="c", action="promotion_refused", reason="r", strategy="a")
    declared = [strategy("a", paper=(1, 1.0), canary=(2, 1.0))]
    observed = [running("a", Stage.PAPER, 1, 1.0, DeploymentState.RUNNING)]
    rows = status_rows(declared, observed, TickView(), log.events())
    assert [(r.key, r.last_event, r.last_event_sequence) for r in rows] == [
        ("a/paper", "deploy", 1),
        ("a/canary", "promotion_refused", 2),
    ]
    assert age(rows[0].last_event_at, AT + timedelta(hours=2, minutes=3)) == "2h 3m"
    assert age(None, AT) == "-"


def record(strategy_name: str, stage: str, key: str, state: BreakState) -> BreakRecord:
    return BreakRecord(
        key=key, strategy=strategy_name, stage=stage, kind=BreakClass.QUANTITY, source="fills",
        symbol="BTC/USDT", ts=0, order_key=7, trade_key=1, ledger=1.0, venue=0.5,
        detail="qty 1 vs 0.5", state=state, severity=Severity.WARNING, first_seen=AT,
        last_seen=AT,
    )  # fmt: skip


def test_open_breaks_count_open_and_aged_per_deployment() -> None:
    records = [
        record("a", "paper", "k1", BreakState.OPEN),
        record("a", "paper", "k2", BreakState.AGED),
        record("a", "paper", "k3", BreakState.SETTLING),
        record("a", "paper", "k4", BreakState.CLEARED),
        record("a", "canary", "k1", BreakState.OPEN),
        record("b", "paper", "k1", BreakState.CLEARED),
    ]
    counts = open_breaks(records)
    assert counts == {"a/paper": 2, "a/canary": 1}
    declared = [strategy("a", paper=(1, 1.0), canary=(2, 1.0)), strategy("b", paper=(1, 1.0))]
    rows = status_rows(declared, [], TickView(), [], breaks=counts)
    assert [(r.key, r.recon_breaks) for r in rows] == [
        ("a/paper", 2), ("a/canary", 1), ("b/paper", 0),
    ]  # fmt: skip
    never_ran = status_rows(declared, [], TickView(), [])
    assert {r.recon_breaks for r in never_ran} == {None}
