"""Reconciliation in the controller's tick: each deployment's ledger against the venue.

Every tick, each deployment the runtime reports whose venue statement the desk's exchange
adapter exported (``<statements>/<strategy>--<stage>/`` of the ReconciliationPolicy in force)
is reconciled (:func:`stratops.ops.reconciliation.run.reconcile_deployment`); a break that
opens, ages or clears is one audit event (keyed: not one per tick), the
``stratops_recon_breaks`` gauge counts the open and aged ones, and the state is saved for
``stratops recon breaks`` and the ``reconciliation`` gate check. With no statement exported,
a tick costs one directory listing.

:func:`halts` decides (pure): a running deployment with an active break of a class the policy
names in ``halt`` gets one ``HALT`` action whose reason names the breaks; the applier runs it
through the runtime's halt, and the halted deployment is not halted again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from stratops.controller.audit import AuditLog
from stratops.controller.observability import Metrics
from stratops.controller.plan import Action, ActionKind, Key
from stratops.gitops.desk import Desk
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState, DeploymentStatus
from stratops.model.problems import InvalidDocumentError
from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.ops.reconciliation.run import (
    DeploymentRecon,
    deployments,
    desk_policy,
    exported,
    merge,
    publish,
    reconcile_deployment,
    set_gauge,
)
from stratops.ops.reconciliation.store import BreakStore
from stratops.runtime.base import Runtime, RuntimeFailure

MAX_NAMED = 3
"""Breaks a halt's reason names (the audit event of each break has them all)."""


def halts(
    outcomes: Sequence[DeploymentRecon], observed: Mapping[Key, DeploymentStatus]
) -> list[Action]:
    """One ``HALT`` per running deployment with an active break of a halting class."""
    actions = []
    for outcome in outcomes:
        key = (outcome.deployment.strategy, Stage(outcome.deployment.stage))
        status = observed.get(key)
        if not outcome.halt or status is None or status.state is not DeploymentState.RUNNING:
            continue
        named = "; ".join(
            f"{r.kind.value} {r.symbol}: {r.detail}" for r in outcome.halt[:MAX_NAMED]
        )
        more = len(outcome.halt) - MAX_NAMED
        actions.append(
            Action(
                kind=ActionKind.HALT,
                strategy=key[0],
                stage=key[1],
                version=status.spec.version,
                reason=f"reconciliation break halts the deployment: {named}"
                + (f" (and {more} more)" if more > 0 else ""),
            )
        )
    return actions


class ReconStep:
    """Reads, reconciles and records; what to halt is :func:`halts`' decision."""

    def __init__(
        self,
        *,
        root: Path,
        runtime: Runtime,
        audit: AuditLog,
        store: BreakStore,
        metrics: Metrics,
        now: Callable[[], datetime],
        log: logging.Logger,
    ) -> None:
        self.root = root
        self.runtime = runtime
        self.audit = audit
        self.store = store
        self.metrics = metrics
        self.now = now
        self.log = log
        self._policies: dict[str, ReconciliationPolicySpec | None] = {}

    def policy(self, commit: str, desk: Callable[[str], Desk]) -> ReconciliationPolicySpec | None:
        """The ReconciliationPolicy of the rules at ``commit`` (parsed once per commit)."""
        if commit not in self._policies:
            try:
                self._policies = {commit: desk_policy(desk(commit))[0]}
            except ValueError as exc:
                self.log.error("reconciliation not run", extra={"error": str(exc)})
                self._policies = {commit: None}
        return self._policies[commit]

    def _runs(
        self, observed: Mapping[Key, DeploymentStatus], skip: Collection[Key], names: set[str]
    ) -> dict[tuple[str, str], Path]:
        """The run folders of the deployments with a statement among ``names``."""
        found = {}
        for key, status in observed.items():
            if key in skip or f"{key[0]}--{key[1].value}" not in names:  # skip: acted on now
                continue
            try:
                folder = self.runtime.telemetry(status.spec).folder
            except RuntimeFailure:
                continue
            if folder is not None:
                found[(key[0], key[1].value)] = folder
        return found

    def run(
        self,
        observed: Mapping[Key, DeploymentStatus],
        policy: ReconciliationPolicySpec,
        skip: Collection[Key] = (),
    ) -> list[Action]:
        """Reconcile what has a statement, record it; the halts to apply."""
        statements = self.root / policy.statements
        names = exported(statements)
        if not names:
            return []
        chosen = deployments(statements, self._runs(observed, skip, names))
        if not chosen:
            return []
        state = self.store.state()
        now = self.now()
        outcomes = []
        for deployment in chosen:
            try:
                outcomes.append(reconcile_deployment(deployment, policy, state.breaks, now))
            except (InvalidDocumentError, OSError, pa.ArrowException) as exc:
                self.log.error(
                    "deployment not reconciled",
                    extra={
                        "deployment": f"{deployment.strategy}/{deployment.stage}",
                        "error": str(exc),
                    },
                )
        for outcome in outcomes:
            publish(outcome, state.breaks, self.audit)
        records = merge(state.breaks, outcomes)
        reconciled = [(o.deployment.strategy, o.deployment.stage) for o in outcomes]
        self.store.save(state.with_run(records, reconciled, policy, now))
        set_gauge(self.metrics, records, (s for s, _ in reconciled))
        return halts(outcomes, observed)
