"""One reconcile tick: snapshot → admit → judge → plan → apply.

Level-triggered, like a controller-runtime reconciler: nothing is carried from one tick to the
next but the controller state, the canaries' analysis runs, the intent journal, the audit log
and the reconciliation's break state; every tick reads Git, the runtime, the registry and the
canaries' telemetry afresh (:mod:`.snapshot`), decides what may change (:mod:`.admit`), judges
the canaries (:mod:`.canaries`) and what to do (:mod:`.plan`), then journals, executes and
records (:mod:`.apply`). After the plan, each deployment's ledger is reconciled with its venue
statement (:mod:`.recon_step`; its halts are applied like the plan's actions; the break
summaries a gates check elsewhere reads are published, :mod:`.recon_publish`) and the market
and execution series are exported (:mod:`.market_step`). :meth:`Reconciler.preview` runs the
same steps but the last. A failure in one part (the remote, the forge, MLflow, a runtime call)
stops only what depends on it, is reported once in the audit log and in the metrics, and never
crashes the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from stratops.canary import AnalysisRun
from stratops.controller.admit import Admission, Refusal, admit
from stratops.controller.analyses import AnalysisStore
from stratops.controller.apply import DEPLOYED_CONTEXT, FAILURES, Applier
from stratops.controller.audit import AuditLog
from stratops.controller.authorize import Authorizer, Verdict
from stratops.controller.canaries import (
    CanaryReader,
    canary_actions,
    judge_canaries,
    ramp_requests,
    rollback_requests,
)
from stratops.controller.expectations import ExpectedPnl
from stratops.controller.journal import IntentJournal
from stratops.controller.market_step import MarketStep
from stratops.controller.observability import Metrics
from stratops.controller.plan import (
    ALIAS_KINDS,
    Action,
    Blocked,
    Key,
    Plan,
    TickPlan,
    plan_tick,
    ramp_actions,
)
from stratops.controller.recon_publish import BreakPublisher
from stratops.controller.recon_step import ReconStep
from stratops.controller.snapshot import Observer, Snapshot
from stratops.controller.state import StateStore
from stratops.gitops.desk import Desk
from stratops.gitops.forge.base import Forge
from stratops.gitops.git import GitRepo
from stratops.model.aliases import AliasDrift
from stratops.ops.reconciliation.store import BreakStore
from stratops.registry.registry import Registry
from stratops.runtime.base import Runtime

__all__ = ["DEPLOYED_CONTEXT", "Blocked", "Reconciler", "TickResult"]


@dataclass(frozen=True)
class TickResult:
    """What one tick (or a preview) saw, decided and did."""

    head: str | None = None
    plan: Plan | None = None
    applied: tuple[Action, ...] = ()
    failed: tuple[tuple[Action, str], ...] = ()
    refused: Mapping[str, Refusal] = field(default_factory=dict)
    rules_refused: Verdict | None = None  # a rule change on main kept out of force
    blocked: Mapping[Key, Blocked] = field(default_factory=dict)
    drift: Mapping[Key, AliasDrift] = field(default_factory=dict)  # aliases moved outside Git
    analyses: Mapping[Key, AnalysisRun] = field(default_factory=dict)  # canaries, live guardrails
    problems: tuple[str, ...] = ()
    seconds: float = 0.0
    merged: tuple[int, ...] = ()  # pull requests the controller merged into main: tick again


@dataclass(frozen=True)
class _Decided:
    """The pure steps' answer for one snapshot (None where the snapshot stopped them)."""

    snapshot: Snapshot
    admission: Admission | None
    planned: TickPlan | None
    analyses: Mapping[Key, AnalysisRun] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """In the order a tick meets them."""
        snapshot = self.snapshot
        found = snapshot.problems()
        found.extend(snapshot.canaries.problems)
        if self.admission is not None:
            found.extend(self.admission.problems)
        if snapshot.forge_problem is not None:
            found.append(snapshot.forge_problem)
        if snapshot.runtime_problem is not None:
            found.append(f"runtime unavailable: {snapshot.runtime_problem}")
        elif snapshot.registry_problem is not None:
            found.append(
                f"registry unavailable, aliases not reconciled: {snapshot.registry_problem}"
            )
        return found

    def result(
        self,
        applied: tuple[Action, ...] = (),
        failed: tuple[tuple[Action, str], ...] = (),
        stopped: str | None = None,
        seconds: float = 0.0,
        merged: tuple[int, ...] = (),
    ) -> TickResult:
        admission, planned = self.admission, self.planned
        return TickResult(
            head=self.snapshot.head,
            plan=None if planned is None else planned.plan,
            applied=applied,
            failed=failed,
            refused={} if admission is None else admission.refused,
            rules_refused=None if admission is None else admission.rules_refused,
            blocked={} if planned is None else planned.blocked,
            drift={} if planned is None else planned.drift,
            analyses=self.analyses,
            problems=(*self.problems(), *([] if stopped is None else [stopped])),
            seconds=seconds,
            merged=merged,
        )


class Reconciler:
    def __init__(
        self,
        *,
        repo: GitRepo,
        registry: Registry,
        runtime: Runtime,
        forge: Forge,
        authorizer: Authorizer,
        audit: AuditLog,
        store: StateStore,
        journal: IntentJournal,
        breaks: BreakStore,
        metrics: Metrics | None = None,
        analyses: AnalysisStore | None = None,
        actor: str = "stratops-controller",
        is_leader: Callable[[], bool] = lambda: True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        logger: logging.Logger | None = None,
    ) -> None:
        self.repo = repo
        self.registry = registry
        self.runtime = runtime
        self.forge = forge
        self.authorizer = authorizer
        self.audit = audit
        self.store = store
        self.journal = journal
        self.metrics = metrics or Metrics()
        self.is_leader = is_leader
        self.analyses = analyses or AnalysisStore(store.path.parent / "analysis")
        self.observer = Observer(
            repo=repo,
            registry=registry,
            runtime=runtime,
            forge=forge,
            audit=audit,
            store=store,
            now=now,
            canaries=CanaryReader(runtime, self.analyses, expected=ExpectedPnl(registry)),
            authorizer=authorizer,
        )
        self.applier = Applier(
            repo=repo,
            registry=registry,
            runtime=runtime,
            forge=forge,
            audit=audit,
            store=store,
            journal=journal,
            analyses=self.analyses,
            metrics=self.metrics,
            actor=actor,
            now=now,
            log=logger or logging.getLogger("stratops.controller"),
        )
        self.market = MarketStep(
            runtime=runtime,
            metrics=self.metrics,
            now=now,
            log=logger or logging.getLogger("stratops.controller"),
        )
        self.recon = ReconStep(
            root=repo.root,
            runtime=runtime,
            audit=audit,
            store=breaks,
            metrics=self.metrics,
            now=now,
            log=logger or logging.getLogger("stratops.controller"),
        )
        self.published = BreakPublisher(
            registry=registry,
            store=breaks,
            actor=actor,
            log=logger or logging.getLogger("stratops.controller"),
        )
        self.now = now

    def _decide(self, snapshot: Snapshot) -> _Decided:
        if snapshot.rewritten:
            return _Decided(snapshot, None, None)
        admission = admit(snapshot)
        if snapshot.observed is None:
            return _Decided(snapshot, admission, None)
        analyses = judge_canaries(snapshot.canaries)
        planned = plan_tick(
            admission.effective,
            snapshot.observed,
            snapshot.aliases,
            snapshot.evidence,
            snapshot.commit,
            [
                *snapshot.rollbacks,
                *rollback_requests(analyses, snapshot.observed, admission.effective),
            ],
        )
        halts = canary_actions(analyses, snapshot.observed, admission.effective)
        if halts:  # halts first: stopping risk comes before any other change
            actions = [*halts, *planned.plan.actions]
            planned = replace(planned, plan=planned.plan.model_copy(update={"actions": actions}))
        ramps = ramp_actions(
            ramp_requests(snapshot.canaries, analyses, snapshot.observed, admission.effective)
        )
        if ramps:  # a passed canary step: the pull request of the next, last
            actions = [*planned.plan.actions, *ramps]
            planned = replace(planned, plan=planned.plan.model_copy(update={"actions": actions}))
        return _Decided(snapshot, admission, planned, analyses)

    def preview(self, *, fetch: bool = True) -> TickResult:
        """What a tick would do, like ``terraform plan``: nothing is changed or recorded."""
        return self._decide(self.observer.read(fetch=fetch)).result()

    def tick(self, *, fetch: bool = True) -> TickResult:
        """Reconcile once: recover pending intents, then snapshot, admit, plan and apply."""
        started = time.monotonic()
        self.applier.merged.clear()
        try:
            self.applier.recover()
            decided = self._decide(self.observer.read(fetch=fetch))
            applied, failed, stopped = self._apply(decided)
        finally:
            seconds = time.monotonic() - started
            self.metrics.reconcile_seconds.observe(seconds)
        return decided.result(applied, failed, stopped, seconds, tuple(self.applier.merged))

    def _apply(
        self, decided: _Decided
    ) -> tuple[tuple[Action, ...], tuple[tuple[Action, str], ...], str | None]:
        """Record what was seen and decided, then run the plan: (applied, failed, stopped)."""
        snapshot, admission, planned = decided.snapshot, decided.admission, decided.planned
        self.applier.record_snapshot(snapshot)
        if admission is None:
            return (), (), None
        self.applier.record_admission(snapshot, admission)
        if planned is None:
            return (), (), None
        self.applier.record_plan(
            snapshot, planned.blocked, planned.drift, len(planned.plan.actions)
        )
        self.applier.record_analyses(decided.analyses, snapshot.canaries.previous)
        desk = snapshot.desk if snapshot.commit == snapshot.head else None
        applied: list[Action] = []
        failed: list[tuple[Action, str]] = []
        commit = planned.plan.commit
        if not self._act(planned.plan.actions, commit, desk, applied, failed):
            return tuple(applied), tuple(failed), "lost leadership: stopped acting"
        halts = self._reconcile(snapshot, admission, planned.plan.actions)
        if not self._act(halts, commit, desk, applied, failed):
            return tuple(applied), tuple(failed), "lost leadership: stopped acting"
        if snapshot.observed is not None:
            self.market.export(snapshot.observed)
        self.applier.save(snapshot, admission, applied, failed)
        return tuple(applied), tuple(failed), None

    def _act(
        self,
        actions: Sequence[Action],
        commit: str,
        desk: Desk | None,
        applied: list[Action],
        failed: list[tuple[Action, str]],
    ) -> bool:
        """Apply ``actions`` in order; False when leadership was lost before one of them."""
        for action in actions:
            if not self.is_leader():
                return False
            try:
                self.applier.apply(action, commit, desk)
                applied.append(action)
            except FAILURES as exc:
                failed.append((action, str(exc)))
        return True

    def _reconcile(
        self, snapshot: Snapshot, admission: Admission, acted: Sequence[Action]
    ) -> list[Action]:
        """Ledger against venue for the deployments this tick left alone; the halts it wants."""
        policy = self.recon.policy(admission.rules_commit or snapshot.head, self.observer.desk)
        if policy is None or snapshot.observed is None:
            return []
        skip = {(a.strategy, a.stage) for a in acted if a.kind not in ALIAS_KINDS}
        halts = self.recon.run(snapshot.observed, policy, skip)
        self.published.publish(self.now())  # for gates checks elsewhere (CI)
        return halts
