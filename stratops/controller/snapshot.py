"""The snapshot: what one tick decides on, read once from Git, the runtime, the registry and
the telemetry of the canaries (:mod:`.canaries`), with what admission needs to know of the past
(:mod:`.admission_facts`: the rules in force, the authorizer's verdicts).

Reading decides nothing, and a part that cannot be read is a state, not an error: the remote
unreachable (the last fetched main is used), history rewritten (nothing more is read), the
runtime or the registry unavailable (None, with the problem). The :class:`Snapshot` is a frozen
value; admission, the plan and apply read it.

The registry is asked only about versions that are declared (at main's head or in the applied
state) somewhere they do not run: a version running everywhere needs no verification
(:func:`stratops.controller.plan.replays`), so an idle tick makes no evidence call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stratops.controller.admission_facts import read_admission_facts
from stratops.controller.admit import AdmissionFacts
from stratops.controller.audit import AuditLog, last_applied_commit
from stratops.controller.authorize import Authorizer
from stratops.controller.canaries import Canaries, CanaryReader, combined
from stratops.controller.plan import Blocked, Evidence, Key, VersionKey
from stratops.controller.state import ControllerState, StateStore
from stratops.gitops.desk import Desk
from stratops.gitops.errors import ForgeError, GitError
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import PullState
from stratops.gitops.git import GitRepo
from stratops.gitops.history import ANALYSIS_DIGEST
from stratops.gitops.rollback_plan import rollback_branch
from stratops.gitops.snapshot import MANIFESTS, desk_at
from stratops.model.aliases import ObservedAliases
from stratops.model.deployment import (
    DeploymentState,
    DeploymentStatus,
    Replay,
)
from stratops.model.problems import Problem
from stratops.model.rollback import RollbackRequest
from stratops.model.strategy import StrategyDeployment
from stratops.registry.errors import EvidenceMismatch, NotFound, RegistryError
from stratops.registry.registry import Registry
from stratops.runtime.base import Runtime, RuntimeFailure


@dataclass(frozen=True)
class Snapshot:
    head: str
    state: ControllerState
    fetch_problem: str | None = None
    desk: Desk | None = None  # None: main's history was rewritten, nothing else was read
    observed: Mapping[Key, DeploymentStatus] | None = None  # None: the runtime is unavailable
    runtime_problem: str | None = None
    aliases: ObservedAliases | None = None  # None: the registry is unavailable
    registry_problem: str | None = None
    evidence: Evidence = field(default_factory=dict)
    canaries: Canaries = field(default_factory=Canaries)
    rollbacks: tuple[RollbackRequest, ...] = ()  # rollbacks under way: their PR is open
    forge_problem: str | None = None  # the rollbacks under way could not be read
    admission: AdmissionFacts | None = None  # what admission asks of the past (a valid desk)

    @property
    def rewritten(self) -> bool:
        return self.desk is None

    def problems(self) -> list[str]:
        """What could not be read, for people, in the order a tick meets it."""
        found = [] if self.fetch_problem is None else [self.fetch_problem]
        if self.rewritten:
            applied = self.state.last_applied or ""
            found.append(
                f"history rewritten: main {self.head[:12]} does not descend from the applied "
                f"{applied[:12]}; reconciliation stopped until main is restored"
            )
        return found

    @property
    def commit(self) -> str:
        """What the tick reconciles towards: main's head, or the last good one if it is invalid."""
        if self.desk is not None and self.desk.ok:
            return self.head
        return self.state.last_applied or self.head


def why_blocked(version: int, error: RegistryError) -> Blocked:
    """Why the registry cannot vouch for ``version``."""
    if isinstance(error, NotFound):
        return Blocked(version, "not_registered", str(error))
    if isinstance(error, EvidenceMismatch):
        return Blocked(version, "evidence_mismatch", error.message.splitlines()[0])
    return Blocked(version, "registry_unavailable", f"cannot verify: {error}")


def load_desk(repo: GitRepo, rev: str) -> Desk:
    """The desk at ``rev``; a revision that cannot be loaded at all is a refused desk."""
    try:
        return desk_at(repo, rev)
    except GitError:
        raise
    except Exception as exc:  # a hostile revision must not stop reconciliation
        return Desk(
            problems=[
                Problem(
                    file=MANIFESTS,
                    message=f"the revision cannot be loaded ({type(exc).__name__}: {exc})",
                    code="desk.unloadable",
                )
            ]
        )


def unverified(
    declared: Iterable[StrategyDeployment], observed: Mapping[Key, DeploymentStatus]
) -> set[VersionKey]:
    """The (strategy, version)s declared for a stage where that version does not run."""
    return {
        (strategy.name, entry.version)
        for strategy in declared
        for stage, entry in strategy.spec.stages.items()
        if (status := observed.get((strategy.name, stage))) is None
        or status.spec.version != entry.version
        or status.state is not DeploymentState.RUNNING
    }


class Observer:
    """Reads a :class:`Snapshot`; keeps only the desk parsed at main's head between ticks."""

    def __init__(
        self,
        *,
        repo: GitRepo,
        registry: Registry,
        runtime: Runtime,
        forge: Forge,
        audit: AuditLog,
        store: StateStore,
        now: Callable[[], datetime],
        canaries: CanaryReader,
        authorizer: Authorizer,
    ) -> None:
        self.canaries = canaries
        self.authorizer = authorizer
        self.repo = repo
        self.registry = registry
        self.runtime = runtime
        self.forge = forge
        self.audit = audit
        self.store = store
        self.now = now
        self._desks: dict[str, Desk] = {}

    def desk(self, rev: str) -> Desk:
        """The desk at ``rev``; main's head is parsed once (heads only move forward)."""
        if rev in self._desks:
            return self._desks[rev]
        return load_desk(self.repo, rev)

    def state(self) -> ControllerState:
        """The saved state; lacking a last applied commit, the one the audit log last recorded.

        A controller starting on an empty state folder (a new pod, a lost disk) restores the
        audit log from its replica on the remote first (:func:`stratops.controller.loop.run`),
        so the rewrite check still holds: wiping the local state does not make any history
        acceptable. The replica is only as trustworthy as the remote's branch protection:
        whoever can rewrite ``stratops/audit`` can drop events there too; ``stratops audit
        verify`` flags a replica that is not a prefix of a surviving local log.
        """
        state = self.store.load()
        if state.last_applied is None:
            recorded = last_applied_commit(self.audit.events())
            if recorded is not None:
                state = state.model_copy(update={"last_applied": recorded})
        return state

    def read(self, *, fetch: bool) -> Snapshot:
        fetch_problem = None
        if fetch:
            try:
                self.repo.fetch()
            except GitError as exc:
                fetch_problem = f"remote unreachable, using the last fetched main: {exc}"
        head = self.repo.remote_main()
        state = self.state()
        if state.last_applied and not self.repo.is_ancestor(state.last_applied, head):
            return Snapshot(head, state, fetch_problem)
        if head not in self._desks:
            self._desks = {head: load_desk(self.repo, head)}
        desk = self._desks[head]
        admission = (
            read_admission_facts(state, desk, head, self.repo, self.authorizer, self.desk)
            if desk.ok
            else None
        )
        try:
            observed = {status.key: status for status in self.runtime.list()}
        except RuntimeFailure as exc:
            return Snapshot(
                head, state, fetch_problem, desk, runtime_problem=str(exc), admission=admission
            )
        declared = [*(desk.strategies.values() if desk.ok else ()), *state.applied.values()]
        evidence = self._evidence(unverified(declared, observed))
        try:
            aliases, registry_problem = self.registry.observe_stage_aliases(), None
        except RegistryError as exc:
            aliases, registry_problem = None, str(exc)
        try:
            rollbacks, forge_problem = self._rollbacks(desk, observed), None
        except (ForgeError, GitError) as exc:
            rollbacks, forge_problem = (), f"rollbacks under way not read: {exc}"
        return Snapshot(
            head,
            state,
            fetch_problem,
            desk,
            observed,
            None,
            aliases,
            registry_problem,
            evidence,
            self._canaries(state, desk, observed),
            rollbacks,
            forge_problem,
            admission,
        )

    def _rollbacks(
        self, desk: Desk, observed: Mapping[Key, DeploymentStatus]
    ) -> tuple[RollbackRequest, ...]:
        """The open rollback pull requests of the halted deployments main still declares.

        Only a halted deployment can have a rollback under way (its analysis failed, the halt
        came first), so an idle tick asks the forge nothing.
        """
        found = []
        strategies = desk.strategies if desk.ok else {}
        for (name, stage), status in sorted(observed.items()):
            declared = strategies.get(name)
            entry = None if declared is None else getattr(declared.spec.stages, stage.value)
            if status.state is not DeploymentState.HALTED or entry is None:
                continue
            branch = rollback_branch(name, entry.version, stage)
            for pull in self.forge.list_pull_requests(state=PullState.OPEN, head_branch=branch):
                digest = dict(self.repo.commit(pull.head_sha).trailers).get(ANALYSIS_DIGEST)
                if digest is not None:
                    found.append(
                        RollbackRequest.resumed(
                            name, stage, entry.version, digest, pull.number, pull.body
                        )
                    )
        return tuple(found)

    def _evidence(
        self, versions: Iterable[VersionKey]
    ) -> dict[VersionKey, Replay | Blocked | None]:
        """Verify each version (registered, evidence and configuration intact) and read what it
        replays, at which execution costs.

        With MLflow unreachable, a version is blocked as ``registry_unavailable``: it waits
        for a later tick.
        """
        found: dict[VersionKey, Replay | Blocked | None] = {}
        for name, version in sorted(versions):
            try:
                metadata = self.registry.evidence_summary(name, version).metadata
                config = self.registry.version_config(name, version)
            except RegistryError as exc:
                found[(name, version)] = why_blocked(version, exc)
                continue
            found[(name, version)] = (
                None
                if metadata.dataset is None
                else Replay(
                    dataset=metadata.dataset,
                    start=metadata.data_range.start,
                    end=metadata.data_range.end,
                    execution=None if config is None else config.execution,
                )
            )
        return found

    def _canaries(
        self, state: ControllerState, desk: Desk, observed: Mapping[Key, DeploymentStatus]
    ) -> Canaries:
        """What the judge needs of each canary: the templates in force, the stage entries
        applied (a canary deploys only once admitted, so it is in the applied state)."""
        in_force = desk if state.rules_commit is None else self.desk(state.rules_commit)
        found = self.canaries.read(observed, state.applied.get, in_force.templates)
        return combined(
            found, self.canaries.read_live(observed, state.applied.get, in_force.templates)
        )
