"""Status rows: what Git wants, what runs, and whether the two agree (pure).

Vocabulary borrowed from Argo CD. **Sync** compares Git with the runtime: ``Synced`` when the
declared version runs at the declared allocation, ``OutOfSync`` when the controller has work
left (a deploy, replace, restart or removal planned), ``Refused`` when the change on main was
refused (the reason says which rule), ``Blocked`` when the controller will not start it (the
version is not registered, or its evidence no longer verifies). **Health** is the runtime's:
``Healthy`` (running), ``Progressing`` (running, not yet what Git wants), ``Degraded``
(should run, does not), ``CrashLoop`` (keeps dying; restarts back off), ``Halted``, and
``Missing`` (declared, nothing runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.controller.audit import AuditEvent
from stratops.model.base import STAGE_ORDER, Stage, human_duration
from stratops.model.deployment import DeploymentState, DeploymentStatus
from stratops.model.strategy import StrategyDeployment
from stratops.ops.reconciliation.lifecycle import ACTIVE, BreakRecord


class Sync(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    REFUSED = "Refused"
    BLOCKED = "Blocked"


class Health(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    CRASH_LOOP = "CrashLoop"
    HALTED = "Halted"
    MISSING = "Missing"


_HEALTH = {
    DeploymentState.RUNNING: Health.HEALTHY,
    DeploymentState.HALTED: Health.HALTED,
    DeploymentState.FAILED: Health.DEGRADED,
    DeploymentState.CRASH_LOOP: Health.CRASH_LOOP,
}


class TickView(BaseModel):
    """What the controller's last tick (or a preview of one) found, as status needs it."""

    model_config = ConfigDict(frozen=True)

    head: str | None = None
    pending: dict[str, str] = Field(
        default_factory=dict, description="strategy/stage → the planned action's reason"
    )
    refused: dict[str, str] = Field(default_factory=dict, description="strategy/stage → why")
    blocked: dict[str, str] = Field(default_factory=dict, description="strategy/stage → why")
    problems: list[str] = Field(default_factory=list)


class StatusRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str
    stage: Stage
    desired_version: int | None = Field(description="In Git at main's head; None: not declared.")
    desired_allocation: float | None
    running_version: int | None = Field(description="What the runtime runs; None: nothing.")
    running_allocation: float | None
    sync: Sync
    sync_reason: str = ""
    health: Health | None = Field(description="None when nothing runs and nothing should.")
    health_detail: str = ""
    instance: str | None = None
    since: AwareDatetime | None = None
    canary_phase: str | None = None
    canary_step: int | None = None
    recon_breaks: int | None = Field(
        None, description="Open and aged reconciliation breaks; None: recon never ran."
    )
    alerts: tuple[str, ...] | None = Field(
        None, description="Names of the firing alerts; None: no Alertmanager configured."
    )
    last_event: str | None = None
    last_event_at: AwareDatetime | None = None
    last_event_sequence: int | None = None

    @property
    def key(self) -> str:
        return f"{self.strategy}/{self.stage.value}"


def declared(strategies: Iterable[StrategyDeployment]) -> dict[str, tuple[int, float]]:
    """``strategy/stage`` → (version, allocation) declared in Git."""
    found: dict[str, tuple[int, float]] = {}
    for strategy in strategies:
        for stage, entry in strategy.spec.stages.items():
            found[f"{strategy.name}/{stage.value}"] = (entry.version, entry.allocation)
    return found


def open_breaks(records: Iterable[BreakRecord]) -> dict[str, int]:
    """``strategy/stage`` → its open and aged breaks (settling and cleared ones do not count)."""
    counts: dict[str, int] = {}
    for record in records:
        if record.state in ACTIVE:
            key = f"{record.strategy}/{record.stage}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def _last_events(events: Iterable[AuditEvent]) -> dict[str, AuditEvent]:
    """The latest event of each ``strategy/stage`` (and of each strategy, under its name)."""
    latest: dict[str, AuditEvent] = {}
    for event in events:
        if event.strategy is None:
            continue
        latest[event.strategy] = event
        if event.stage is not None:
            latest[f"{event.strategy}/{event.stage}"] = event
    return latest


def _order(key: str) -> tuple[str, int]:
    strategy, stage = key.split("/")
    return strategy, STAGE_ORDER.index(Stage(stage))


def status_rows(
    strategies: Iterable[StrategyDeployment],
    running: Sequence[DeploymentStatus],
    tick: TickView,
    events: Iterable[AuditEvent],
    extras: Mapping[str, Mapping[str, object]] | None = None,
    *,
    breaks: Mapping[str, int] | None = None,
) -> list[StatusRow]:
    """One row per (strategy, stage) declared or running, by strategy then stage order.

    ``breaks`` counts the open breaks by ``strategy/stage`` (:func:`open_breaks`; a row not
    in it has none); None when reconciliation never ran. ``extras`` adds what other parts
    know of a row, by ``strategy/stage``: ``canary_phase``, ``canary_step``. The alerts are
    added per read (:func:`stratops.status.alerting.with_alerts`).
    """
    wanted = declared(strategies)
    observed = {f"{s.spec.strategy}/{s.spec.stage.value}": s for s in running}
    latest = _last_events(events)
    rows = []
    for key in sorted(set(wanted) | set(observed), key=_order):
        strategy, stage = key.split("/")
        desired = wanted.get(key)
        status = observed.get(key)
        sync, reason = _sync(key, desired, status, tick)
        health, detail = _health(desired, status, sync)
        event = latest.get(key) or latest.get(strategy)
        rows.append(
            StatusRow(
                strategy=strategy,
                stage=Stage(stage),
                desired_version=None if desired is None else desired[0],
                desired_allocation=None if desired is None else desired[1],
                running_version=None if status is None else status.spec.version,
                running_allocation=None if status is None else status.spec.allocation,
                sync=sync,
                sync_reason=reason,
                health=health,
                health_detail=detail,
                instance=None if status is None else status.instance,
                since=None if status is None else status.since,
                last_event=None if event is None else event.action,
                last_event_at=None if event is None else event.at,
                last_event_sequence=None if event is None else event.sequence,
                recon_breaks=None if breaks is None else breaks.get(key, 0),
                **dict((extras or {}).get(key, {})),
            )
        )
    return rows


def _sync(
    key: str,
    desired: tuple[int, float] | None,
    status: DeploymentStatus | None,
    tick: TickView,
) -> tuple[Sync, str]:
    if key in tick.refused:
        return Sync.REFUSED, tick.refused[key]
    if key in tick.blocked:
        return Sync.BLOCKED, tick.blocked[key]
    if key in tick.pending:
        return Sync.OUT_OF_SYNC, tick.pending[key]
    running = None if status is None else (status.spec.version, status.spec.allocation)
    if desired == running:
        return Sync.SYNCED, ""
    if desired is None:
        return Sync.OUT_OF_SYNC, "runs but is no longer declared"
    if running is None:
        return Sync.OUT_OF_SYNC, "declared, not running"
    return Sync.OUT_OF_SYNC, f"runs v{running[0]} @ {running[1]:,.0f}, Git wants v{desired[0]}"


def _health(
    desired: tuple[int, float] | None, status: DeploymentStatus | None, sync: Sync
) -> tuple[Health | None, str]:
    if status is None:
        return (None, "") if desired is None else (Health.MISSING, "nothing runs")
    health = _HEALTH[status.state]
    if health is Health.HEALTHY and sync is Sync.OUT_OF_SYNC:
        return Health.PROGRESSING, status.detail
    return health, status.detail


def age(moment: datetime | None, now: datetime) -> str:
    """``3m``, ``2h 5m``: how long ago, for a table cell."""
    return "-" if moment is None else human_duration((now - moment).total_seconds())
