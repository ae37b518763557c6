"""Assemble a controller for a desk repository from its parts (the one place that wires them).

Everything the controller keeps lives under ``<desk>/.stratops/controller``: the state, the
intent journal and the audit log. The local runtime keeps its deployments under
``<desk>/.stratops/runtime``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stratops.controller.analyses import AnalysisStore
from stratops.controller.audit import AuditLog
from stratops.controller.authorize import Authorizer
from stratops.controller.gate_evaluation import desk_breaks, registry_evaluator, stored_breaks
from stratops.controller.journal import IntentJournal
from stratops.controller.observability import Metrics
from stratops.controller.reconcile import Reconciler
from stratops.controller.state import StateStore
from stratops.gitops.evaluation import GateEvaluator
from stratops.gitops.forge.select import ForgeKind, open_forge
from stratops.gitops.git import GitRepo
from stratops.model.notification import Notification, Webhook
from stratops.notify.deliver import Delivery, Notifier, Sender
from stratops.ops.reconciliation.store import BreakStore
from stratops.registry.location import resolve_location
from stratops.registry.registry import Registry
from stratops.runtime.base import Runtime
from stratops.runtime.local import LocalRuntime, paper_command

CONTROLLER_DIR = Path(".stratops") / "controller"
RUNTIME_DIR = Path(".stratops") / "runtime"


@dataclass(frozen=True)
class ControllerPaths:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / CONTROLLER_DIR / "state.json"

    @property
    def journal(self) -> Path:
        return self.root / CONTROLLER_DIR / "intents.jsonl"

    @property
    def audit(self) -> Path:
        return self.root / CONTROLLER_DIR / "audit.jsonl"

    @property
    def endpoint(self) -> Path:
        """Where a running controller says where it serves its API (for ``stratops status``)."""
        return self.root / CONTROLLER_DIR / "endpoint.json"

    @property
    def notifications(self) -> Path:
        return self.root / CONTROLLER_DIR / "notifications.json"

    @property
    def analyses(self) -> Path:
        """The canaries' analysis runs (:mod:`stratops.controller.analyses`)."""
        return self.root / CONTROLLER_DIR / "analysis"

    @property
    def recon(self) -> Path:
        """The reconciliation breaks (:mod:`stratops.ops.reconciliation.store`)."""
        return self.root / CONTROLLER_DIR / "recon.json"

    @property
    def runtime(self) -> Path:
        return self.root / RUNTIME_DIR

    @property
    def telemetry(self) -> Path:
        """The Kubernetes runtime's mirror of the telemetry bucket (one folder per prefix)."""
        return self.root / CONTROLLER_DIR / "telemetry"


def local_runtime(root: Path, registry: Registry, speed: float) -> LocalRuntime:
    """Paper processes that load their models from the same registry as the controller."""
    return LocalRuntime(
        ControllerPaths(root).runtime,
        command=paper_command(speed),
        env={"MLFLOW_TRACKING_URI": registry.location.tracking_uri},
    )


def build_reconciler(
    desk: Path,
    *,
    tracking_uri: str | None = None,
    runtime: Callable[[Path, Registry], Runtime] | None = None,
    forge: ForgeKind = ForgeKind.AUTO,
    env: Mapping[str, str] | None = None,
    metrics: Metrics | None = None,
    is_leader: Callable[[], bool] = lambda: True,
    speed: float = 3600.0,
) -> Reconciler:
    repo = GitRepo.discover(desk)
    root = repo.root
    registry = Registry(resolve_location(tracking_uri, desk=lambda: root))
    paths = ControllerPaths(root)
    chosen = runtime(root, registry) if runtime else local_runtime(root, registry, speed)
    the_forge = open_forge(repo, forge, env if env is not None else os.environ)
    return Reconciler(
        repo=repo,
        registry=registry,
        runtime=chosen,
        forge=the_forge,
        authorizer=Authorizer(
            repo, the_forge, registry_evaluator(registry, stored_breaks(paths.recon))
        ),
        audit=AuditLog(paths.audit),
        store=StateStore(paths.state),
        journal=IntentJournal(paths.journal),
        analyses=AnalysisStore(paths.analyses),
        breaks=BreakStore(paths.recon),
        metrics=metrics,
        is_leader=is_leader,
    )


def desk_evaluator(root: Path) -> GateEvaluator:
    """The evaluator for the desk at ``root``: $MLFLOW_TRACKING_URI, else its embedded store,
    with the desk's reconciliation breaks (those the controller publishes in that registry when
    it does not run in this folder, as in CI)."""
    registry = Registry(resolve_location(None, desk=lambda: root))
    return registry_evaluator(registry, desk_breaks(ControllerPaths(root).recon, registry))


def webhooks_in_force(reconciler: Reconciler) -> Callable[[], list[Webhook]]:
    """The webhooks of the ``Notification`` documents in force: those of the commit whose rules
    the controller last accepted (a direct push cannot redirect the desk's notifications)."""
    loaded: dict[str, list[Webhook]] = {}

    def webhooks() -> list[Webhook]:
        state = reconciler.store.load()
        commit = state.rules_commit or state.last_applied
        if commit is None:
            return []
        if commit not in loaded:
            desk = reconciler.observer.desk(commit)
            hooks = [hook for _, doc in desk.of_kind(Notification) for hook in doc.spec.webhooks]
            loaded.clear()
            loaded[commit] = hooks
        return loaded[commit]

    return webhooks


def build_notifier(
    reconciler: Reconciler, env: Mapping[str, str], metrics: Metrics | None = None
) -> Notifier:
    def count(delivery: Delivery) -> None:
        if metrics is not None:
            metrics.notifications.labels(delivery.webhook, delivery.outcome).inc()

    root = reconciler.repo.root
    return Notifier(
        reconciler.audit,
        ControllerPaths(root).notifications,
        webhooks_in_force(reconciler),
        Sender(env),
        desk=root.name,
        on_delivery=count,
    )
