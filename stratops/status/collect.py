"""Gather a desk's status from the parts the controller already holds (no second source).

With a running controller, its last tick is the view; without one, a preview of a tick (what
``stratops controller plan`` computes, nothing changed or recorded) stands in for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.controller.assembly import ControllerPaths
from stratops.controller.reconcile import Reconciler, TickResult
from stratops.model.base import Stage
from stratops.ops.reconciliation.lifecycle import BreakRecord
from stratops.ops.reconciliation.store import BreakStore
from stratops.status.alerting import AlertsState
from stratops.status.markets import MarketRegime, desk_markets, market_regimes
from stratops.status.profiles import market_profiles
from stratops.status.rows import StatusRow, TickView, open_breaks, status_rows


class DeskStatus(BaseModel):
    """The desk at one moment: main's head, a row per deployment, what the tick complained of."""

    model_config = ConfigDict(frozen=True)

    desk: str
    head: str | None
    source: str  # "controller" (its last tick) or "preview" (computed without a controller)
    at: AwareDatetime
    rows: list[StatusRow]
    problems: list[str]
    markets: list[MarketRegime] = Field(
        default_factory=list, description="The regime of each venue/symbol of the desk at `at`."
    )
    alerts: AlertsState = Field(
        default_factory=AlertsState, description="Where the alerts column comes from."
    )


def tick_view(result: TickResult) -> TickView:
    def key(strategy: str, stage: Stage) -> str:
        return f"{strategy}/{stage.value}"

    pending: dict[str, str] = {}
    for action in result.plan.actions if result.plan else []:  # the first action of a row says
        pending.setdefault(
            key(action.strategy, action.stage), f"{action.kind.value}: {action.reason}"
        )
    pending.update(
        {key(a.strategy, a.stage): f"{a.kind.value} failed: {why}" for a, why in result.failed}
    )
    return TickView(
        head=result.head,
        pending=pending,
        refused={
            key(name, stage): f"v{version} {verdict.code}: {verdict.reason}"
            for name, (stage, version, verdict) in result.refused.items()
        },
        blocked={
            key(name, stage): f"v{b.version} {b.code}: {b.reason}"
            for (name, stage), b in result.blocked.items()
        },
        problems=list(result.problems),
    )


def canary_extras(result: TickResult) -> dict[str, dict[str, object]]:
    """Each judged canary's analysis phase, and its step when the template ramps in steps."""
    return {
        f"{name}/{stage.value}": {
            "canary_phase": f"{run.phase.value} ({run.action.value})",
            "canary_step": None if run.steps == 1 else run.step + 1,
        }
        for (name, stage), run in result.analyses.items()
    }


def collect(
    reconciler: Reconciler, last_tick: TickResult | None = None, *, fetch: bool = True
) -> DeskStatus:
    """The status now: ``last_tick`` when a controller ran one, else a preview."""
    result = last_tick if last_tick is not None else reconciler.preview(fetch=fetch)
    view = tick_view(result)
    declared = {} if view.head is None else reconciler.observer.desk(view.head).strategies
    running = reconciler.runtime.list()
    records, unreadable = stored_breaks(reconciler)
    breaks = None if records is None else open_breaks(records)
    rows = status_rows(
        declared.values(),
        running,
        view,
        reconciler.audit.events(),
        canary_extras(result),
        breaks=breaks,
    )
    at = now()
    return DeskStatus(
        desk=reconciler.repo.root.name,
        head=view.head,
        source="preview" if last_tick is None else "controller",
        at=at,
        rows=rows,
        problems=[*view.problems, *([unreadable] if unreadable else [])],
        markets=market_regimes(market_profiles(desk_markets(declared.values(), running)), at),
    )


def stored_breaks(reconciler: Reconciler) -> tuple[list[BreakRecord] | None, str | None]:
    """The breaks of the recon store (None: never written) and why it could not be read."""
    store = BreakStore(ControllerPaths(reconciler.repo.root).recon)
    if not store.path.exists():
        return None, None
    try:
        return store.load(), None
    except (OSError, ValueError) as exc:
        return None, f"cannot read the reconciliation breaks {store.path}: {exc}"


def now() -> datetime:
    """The wall clock, UTC, to the second: the moment a status is of."""
    return datetime.now(UTC).replace(microsecond=0)
