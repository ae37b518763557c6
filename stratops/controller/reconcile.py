"""One reconcile tick: fetch → verify → load → observe → plan → act → record.

Level-triggered, like a controller-runtime reconciler: nothing is carried from one tick to the
next but the controller state, the intent journal and the audit log; every tick reads Git,
the runtime and the registry afresh. A failure in one part (the remote, the forge, MLflow, a
runtime call) stops only what depends on it, is reported once in the audit log and in the
metrics, and never crashes the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from stratops.controller.audit import COMMIT_APPLIED, AuditLog, last_applied_commit
from stratops.controller.authorize import (
    Authorizer,
    Verdict,
    promotion_commits,
    reallocations,
    risk_changes,
)
from stratops.controller.faults import crash_point
from stratops.controller.journal import IntentJournal
from stratops.controller.observability import Metrics
from stratops.controller.plan import RUNTIME_KINDS, Action, ActionKind, Plan, desired_specs, plan
from stratops.controller.provenance import Provenance, trace
from stratops.controller.signatures import Signers, required_signers
from stratops.controller.state import ControllerState, StateStore, verified_key
from stratops.gitops.changes import rule_changes
from stratops.gitops.desk import Desk
from stratops.gitops.errors import ForgeError, GitError
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import CommitStatus, StatusState
from stratops.gitops.git import GitRepo
from stratops.gitops.snapshot import MANIFESTS, desk_at
from stratops.model.base import Stage
from stratops.model.policy import GatePolicy
from stratops.model.problems import Problem
from stratops.model.strategy import StrategyDeployment
from stratops.registry.errors import EvidenceMismatch, NotFound, RegistryError
from stratops.registry.history import AliasDrift, ObservedAliases
from stratops.registry.registry import Registry
from stratops.runtime.base import (
    DeploymentState,
    DeploymentStatus,
    Replay,
    Runtime,
    RuntimeFailure,
)

DEPLOYED_CONTEXT = "stratops/deployed"
Key = tuple[str, Stage]


@dataclass(frozen=True)
class Blocked:
    """A declared deployment the controller will not start: ``code`` is stable."""

    version: int
    code: str  # not_registered | evidence_mismatch | registry_unavailable
    reason: str


@dataclass(frozen=True)
class _Rules:
    """The rules in force: those of ``commit``, the last rule change accepted on main."""

    commit: str
    policy: GatePolicy | None
    signers: Signers | None  # whose signatures count, None: no signature is required
    refused: Verdict | None = None  # the first later rule change on main, not accepted


@dataclass(frozen=True)
class _Prepared:
    """What a tick acts on, once verified, loaded, observed and planned."""

    state: ControllerState
    desk_ok: bool
    head: str
    commit: str
    effective: dict[str, StrategyDeployment]
    verified: set[str]
    plan: Plan
    rules_commit: str | None


@dataclass
class TickResult:
    head: str | None = None
    plan: Plan | None = None
    applied: list[Action] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)
    refused: dict[str, tuple[Stage, int, Verdict]] = field(default_factory=dict)
    rules_refused: Verdict | None = None  # a rule change on main kept out of force
    blocked: dict[Key, Blocked] = field(default_factory=dict)
    drift: dict[Key, AliasDrift] = field(default_factory=dict)  # aliases moved outside Git
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _why_blocked(error: RegistryError) -> tuple[str, str]:
    """(code, reason) of a version the registry cannot vouch for."""
    if isinstance(error, NotFound):
        return "not_registered", str(error)
    if isinstance(error, EvidenceMismatch):
        return "evidence_mismatch", error.message.splitlines()[0]
    return "registry_unavailable", f"cannot verify: {error}"


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
        metrics: Metrics | None = None,
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
        self.actor = actor
        self.is_leader = is_leader
        self.now = now
        self.log = logger or logging.getLogger("stratops.controller")
        self._desks: dict[str, Desk] = {}
        self._replays: dict[tuple[str, int], Replay | None] = {}  # versions are immutable

    # record

    def _event(
        self,
        key: str,
        action: str,
        reason: str,
        *,
        strategy: str | None = None,
        stage: Stage | None = None,
        version: int | None = None,
        commit: str | None = None,
        **details: object,
    ) -> None:
        self.audit.append(
            key=key,
            at=self.now(),
            actor=self.actor,
            action=action,
            reason=reason,
            strategy=strategy,
            stage=None if stage is None else stage.value,
            version=version,
            commit=commit,
            details=details,
        )

    def _status(self, sha: str, state: StatusState, description: str) -> None:
        try:
            self.forge.set_commit_status(
                sha,
                CommitStatus(
                    context=DEPLOYED_CONTEXT,
                    state=state,
                    creator=self.actor,
                    description=description[:140],
                ),
            )
        except ForgeError as exc:
            self.metrics.refusals.labels(reason="forge_unavailable").inc()
            self.log.warning("cannot set commit status", extra={"commit": sha, "error": str(exc)})

    # act

    def _execute(self, action: Action, provenance: Provenance) -> None:
        if action.kind in RUNTIME_KINDS:
            assert action.spec is not None
            self.runtime.deploy(action.spec, actor=self.actor, reason=action.reason)
        elif action.kind is ActionKind.REMOVE:
            self.runtime.remove(
                action.strategy, action.stage, actor=self.actor, reason=action.reason
            )
        elif action.kind is ActionKind.SET_ALIAS:
            assert action.version is not None
            self.registry.set_stage_alias(
                action.strategy,
                action.stage,
                action.version,
                actor=self.actor,
                reason=action.reason,
                pull_request=provenance.pull_request,
                approvers=provenance.approvers,
            )
        else:
            self.registry.clear_stage_alias(
                action.strategy,
                action.stage,
                actor=self.actor,
                reason=action.reason,
                pull_request=provenance.pull_request,
                approvers=provenance.approvers,
            )

    def _provenance(self, action: Action, commit: str) -> Provenance:
        """Where the change an action applies came from (best effort: never blocks it)."""
        desk = self._desks.get(commit)
        sources = [] if desk is None else desk.of_kind(StrategyDeployment)
        path = next((s.file for s, doc in sources if doc.name == action.strategy), MANIFESTS)
        found = trace(self.repo, self.forge, commit, path)
        if action.version is None:
            return found
        try:
            digest = self.registry.get_version(action.strategy, action.version).evidence_digest
        except RegistryError:
            return found
        return replace(found, evidence_digest=digest)

    def _finish(self, key: str, commit: str, action: Action) -> None:
        """Run an action whose intent is journalled, record it, cross the intent out."""
        provenance = self._provenance(action, commit)
        try:
            self._execute(action, provenance)
        except (RuntimeFailure, RegistryError) as exc:
            self._event(
                f"{key}:error",
                f"{action.kind.value}_failed",
                f"{action.reason}: {exc}",
                strategy=action.strategy,
                stage=action.stage,
                version=action.version,
                commit=commit,
                **provenance.details(),
            )
            self.journal.done(key)
            self.metrics.actions.labels(kind=action.kind.value, outcome="error").inc()
            raise
        crash_point("after-act")
        self._event(
            key,
            action.kind.value,
            action.reason,
            strategy=action.strategy,
            stage=action.stage,
            version=action.version,
            commit=commit,
            from_version=action.from_version,
            **provenance.details(),
        )
        crash_point("after-audit")
        self.journal.done(key)
        self.metrics.actions.labels(kind=action.kind.value, outcome="applied").inc()

    def apply(self, action: Action, commit: str) -> None:
        key = action.key(commit)
        self.journal.begin(key, commit, action)
        crash_point("after-intent")
        self._finish(key, commit, action)

    def recover(self) -> list[Action]:
        """Finish the intents a crash left pending, before anything else."""
        finished = []
        for key, commit, action in self.journal.pending():
            try:
                self._finish(key, commit, action)
                finished.append(action)
            except (RuntimeFailure, RegistryError) as exc:
                self.log.warning("pending intent failed", extra={"key": key, "error": str(exc)})
        return finished

    # verify and load

    def _desk(self, head: str) -> Desk:
        """The desk at ``head``, loaded once (heads only move forward)."""
        if head not in self._desks:
            self._desks = {head: _load(self.repo, head)}
        return self._desks[head]

    def _rules(self, state: ControllerState, desk: Desk, head: str) -> _Rules:
        """The rules in force at ``head``: each rule change since the last accepted one must
        be accepted by the authorizer, under the rules before it; the first that is not stops
        them (until main's rules are back to those in force). The first tick trusts ``head``.
        """
        start = state.rules_commit or state.last_applied
        if start is None:
            return _Rules(head, desk.policy, required_signers(desk))
        in_force = _load(self.repo, start)
        if not rule_changes(in_force.rules, desk.rules):
            return _Rules(head, desk.policy, required_signers(desk))
        for change in reversed(self.repo.log(head, since=start, first_parent=True)):
            after = _load(self.repo, change.sha)
            if not rule_changes(in_force.rules, after.rules):
                continue
            signers = required_signers(in_force)
            verdict = self.authorizer.rule_change(change.sha, in_force.policy, signers)
            if not verdict.allowed:
                return _Rules(start, in_force.policy, signers, verdict)
            start, in_force = change.sha, after
        return _Rules(start, in_force.policy, required_signers(in_force))

    def _authorize(
        self,
        state: ControllerState,
        desk: Desk,
        head: str,
        rules: _Rules,
        result: TickResult,
    ) -> tuple[dict[str, StrategyDeployment], set[str]]:
        """The desired state to apply per strategy, and the promotions verified now.

        Promotions are checked against ``rules``, those in force.
        A strategy with a refused promotion keeps, as a whole, what was applied before.
        Refusals land in ``result.refused`` as (stage, version, verdict).
        """
        effective: dict[str, StrategyDeployment] = {}
        verified: set[str] = set()
        commits = None
        strategies = desk.strategies  # built once: a property that makes a new dict each call
        sources = {doc.name: found.file for found, doc in desk.of_kind(StrategyDeployment)}
        for name in sorted(set(strategies) | set(state.applied)):
            wanted, applied = strategies.get(name), state.applied.get(name)
            refusal = None
            source = sources.get(name)
            if wanted and state.last_applied and source is not None:
                for stage in reallocations(applied, wanted):
                    verdict = self.authorizer.reallocation(
                        source, state.last_applied, head, rules.signers
                    )
                    if not verdict.allowed:
                        refusal = (stage, getattr(wanted.spec.stages, stage.value).version, verdict)
                        break
            for stage, version in [] if refusal else risk_changes(applied, wanted):
                assert wanted is not None  # risk changes are stages that main declares
                allocation = getattr(wanted.spec.stages, stage.value).allocation
                key = verified_key(name, stage.value, version, allocation)
                if key in state.verified:
                    continue
                if commits is None:
                    commits = promotion_commits(self.repo, head)
                verdict = self.authorizer.promotion(
                    name, stage, version, commits, rules.policy, rules.signers
                )
                if verdict.allowed and source is not None:
                    verdict = self._capital(verdict, allocation, source, head, rules.signers)
                if not verdict.allowed:
                    refusal = (stage, version, verdict)
                    break
                verified.add(key)
            chosen = wanted if refusal is None else applied
            if refusal is not None:
                result.refused[name] = refusal
            if chosen is not None:
                effective[name] = chosen
        return effective, verified

    def _capital(
        self, verdict: Verdict, allocation: float, source: str, head: str, signers: Signers | None
    ) -> Verdict:
        """Capital in canary or live is at most what a merged, approved PR set.

        ``verdict`` allowed a promotion at the capital its PR set; main may hold more only if
        the last change of the manifest since then came through a merged PR as well.
        """
        granted = verdict.allocation
        if granted is None or allocation <= granted or verdict.commit is None:
            return verdict
        raised = self.authorizer.reallocation(source, verdict.commit, head, signers)
        if raised.allowed:
            return verdict
        return Verdict(
            False,
            raised.code if raised.retryable else "capital_exceeds_review",
            f"main allocates {allocation:,.0f}, the merged promotion set {granted:,.0f}: "
            + raised.reason,
            raised.commit or verdict.commit,
        )

    def _record_rules(self, refused: Verdict | None, in_force: str | None) -> None:
        """A rule change kept out of force: audited once, counted, alerted, marked failing."""
        self.metrics.blocked.labels(reason="policy_refused").set(int(refused is not None))
        if refused is None or refused.retryable:
            return
        sha = refused.commit
        assert sha is not None
        self.metrics.refusals.labels(reason="policy_refused").inc()
        self.log.error(
            "rule change refused: the last approved rules stay in force",
            extra={"commit": sha, "code": refused.code, "in_force": in_force},
        )
        self._event(
            f"policy_refused:{sha}:{refused.code}",
            "policy_refused",
            refused.reason,
            commit=sha,
            code=refused.code,
            in_force=in_force,
        )
        self._status(sha, StatusState.FAILURE, f"rule change refused: {refused.reason}")

    def _refuse(self, name: str, stage: Stage, version: int, verdict: Verdict, head: str) -> None:
        self.metrics.refusals.labels(reason=verdict.code).inc()
        self._event(
            f"refused:{head}:{name}:{stage.value}:{version}:{verdict.code}",
            "promotion_refused",
            verdict.reason,
            strategy=name,
            stage=stage,
            version=version,
            commit=verdict.commit or head,
            code=verdict.code,
        )
        if verdict.commit and not verdict.retryable:
            self._status(verdict.commit, StatusState.FAILURE, f"refused: {verdict.reason}")

    # the tick

    def tick(self, *, fetch: bool = True) -> TickResult:
        """Reconcile once: recover, then fetch, verify, load, observe, plan, act, record."""
        result = TickResult()
        started = time.monotonic()
        try:
            self.recover()
            prepared = self._prepare(result, fetch, record=True)
            if prepared is not None:
                self._act(result, prepared)
        finally:
            result.seconds = time.monotonic() - started
            self.metrics.reconcile_seconds.observe(result.seconds)
        return result

    def preview(self, *, fetch: bool = True) -> TickResult:
        """What a tick would do, like ``terraform plan``: nothing is changed or recorded."""
        result = TickResult()
        self._prepare(result, fetch, record=False)
        return result

    def _state(self) -> ControllerState:
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

    def _prepare(self, result: TickResult, fetch: bool, *, record: bool) -> _Prepared | None:
        if fetch:
            try:
                self.repo.fetch()
            except GitError as exc:
                result.problems.append(f"remote unreachable, using the last fetched main: {exc}")
                if record:
                    self.metrics.refusals.labels(reason="remote_unreachable").inc()
        head = self.repo.remote_main()
        result.head = head
        state = self._state()

        if state.last_applied and not self.repo.is_ancestor(state.last_applied, head):
            result.problems.append(
                f"history rewritten: main {head[:12]} does not descend from the applied "
                f"{state.last_applied[:12]}; reconciliation stopped until main is restored"
            )
            if record:
                self._event(
                    f"history:{head}",
                    "history_rewritten",
                    result.problems[-1],
                    commit=head,
                    applied=state.last_applied,
                )
                self.metrics.blocked.labels(reason="history_rewritten").set(1)
            return None
        desk = self._desk(head)
        rules_commit = state.rules_commit
        if desk.ok:
            rules = self._rules(state, desk, head)
            rules_commit, result.rules_refused = rules.commit, rules.refused
            if rules.refused is not None:
                result.problems.append(
                    f"rule change {(rules.refused.commit or head)[:12]} refused "
                    f"({rules.refused.code}): the rules of {rules.commit[:12]} stay in force"
                )
            effective, verified = self._authorize(state, desk, head, rules, result)
        else:
            result.problems.append(
                f"the desk at {head[:12]} does not validate: the last good state keeps running"
            )
            effective, verified = dict(state.applied), set()
        if record:
            self._record_rules(result.rules_refused, rules_commit)
            self.metrics.blocked.labels(reason="history_rewritten").set(0)
            self.metrics.blocked.labels(reason="refused").set(len(result.refused))
            for name, (stage, version, verdict) in result.refused.items():
                self._refuse(name, stage, version, verdict, head)
            if not desk.ok:
                self._event(
                    f"invalid:{head}",
                    "revision_refused",
                    result.problems[-1],
                    commit=head,
                    problems=[p.render() for p in desk.problems[:20]],
                )
        try:
            observed = {status.key: status for status in self.runtime.list()}
        except RuntimeFailure as exc:
            result.problems.append(f"runtime unavailable: {exc}")
            if record:
                self.metrics.blocked.labels(reason="runtime_unavailable").set(1)
            return None
        aliases = self._aliases(result)
        commit = head if desk.ok else (state.last_applied or head)
        replays = self._deployable(effective, observed, result)
        if record:
            self._record_blocked(result, commit)
        result.plan = self._plan(effective, observed, aliases, commit, replays, result)
        if record:
            self._record_drift(result, commit)
            self.metrics.blocked.labels(reason="runtime_unavailable").set(0)
            self.metrics.drift.set(len(result.plan.actions))
            for status in observed.values():
                if status.state is DeploymentState.CRASH_LOOP:  # one event per crashed instance
                    self._event(
                        f"crash_loop:{status.spec.strategy}:{status.spec.stage.value}:"
                        f"{status.instance}",
                        "crash_loop",
                        status.detail,
                        strategy=status.spec.strategy,
                        stage=status.spec.stage,
                        version=status.spec.version,
                        commit=status.spec.commit,
                    )
        return _Prepared(
            state, desk.ok, head, commit, effective, verified, result.plan, rules_commit
        )

    def _act(self, result: TickResult, prepared: _Prepared) -> None:
        for action in prepared.plan.actions:
            if not self.is_leader():
                result.problems.append("lost leadership: stopped acting")
                return
            try:
                self.apply(action, prepared.commit)
                result.applied.append(action)
            except (RuntimeFailure, RegistryError) as exc:
                result.failed.append((action, str(exc)))
        crash_point("before-state")
        state = prepared.state
        if prepared.desk_ok:
            head = prepared.head
            self._event(  # keyed: once per commit, also when a crash lost the state saved next
                f"applied:{head}",
                COMMIT_APPLIED,
                f"reconciled towards {head[:12]}",
                commit=head,
                previous=state.last_applied,
            )
            self.store.save(
                ControllerState(
                    last_applied=head,
                    applied=prepared.effective,
                    verified=frozenset(state.verified | prepared.verified),
                    rules_commit=prepared.rules_commit,
                )
            )
            if head != state.last_applied or result.applied:
                self._deployed_status(head, result)
            self.metrics.applied_commit.labels(commit=head).set(1)
        self.journal.compact()
        self.metrics.last_success.set(time.time())

    def _deployed_status(self, head: str, result: TickResult) -> None:
        if result.rules_refused is not None and not result.rules_refused.retryable:
            self._status(
                head, StatusState.FAILURE, f"rule change refused: {result.rules_refused.reason}"
            )
        elif result.refused or result.failed:
            refused = ", ".join(sorted(result.refused))
            why = f"refused: {refused}" if refused else f"{len(result.failed)} action(s) failed"
            self._status(head, StatusState.FAILURE, f"not fully deployed: {why}")
        else:
            self._status(head, StatusState.SUCCESS, f"deployed: {len(result.applied)} action(s)")

    def _aliases(self, result: TickResult) -> ObservedAliases | None:
        try:
            return self.registry.observe_stage_aliases()
        except RegistryError as exc:
            result.problems.append(f"registry unavailable, aliases not reconciled: {exc}")
            self.metrics.blocked.labels(reason="registry_unavailable").set(1)
            return None

    def _deployable(
        self,
        effective: dict[str, StrategyDeployment],
        observed: dict[Key, DeploymentStatus],
        result: TickResult,
    ) -> dict[tuple[str, int], Replay | None]:
        """Verify each declared version: registered, evidence intact; what it replays.

        A version that is not registered or whose evidence does not verify is blocked: it is
        never started. A version is verified again whenever one of its deployments would be
        (re)started: only a version running everywhere it is declared keeps its verification.
        With MLflow unreachable, unverified versions wait for a later tick.
        """
        declaring: dict[tuple[str, int], list[Key]] = {}
        for name, strategy in effective.items():
            for stage, entry in strategy.spec.stages.items():
                declaring.setdefault((name, entry.version), []).append((name, stage))
        for version, keys in declaring.items():
            if version in self._replays and all(
                (running := observed.get(key)) is not None
                and running.spec.version == version[1]
                and running.state is DeploymentState.RUNNING
                for key in keys
            ):
                continue
            try:
                metadata = self.registry.evidence_summary(*version).metadata
            except RegistryError as exc:
                self._replays.pop(version, None)
                for key in keys:  # a running deployment of it is not restarted either
                    result.blocked[key] = Blocked(version[1], *_why_blocked(exc))
                continue
            self._replays[version] = (
                None
                if metadata.dataset is None
                else Replay(
                    dataset=metadata.dataset,
                    start=metadata.data_range.start,
                    end=metadata.data_range.end,
                )
            )
        return self._replays

    def _record_blocked(self, result: TickResult, commit: str) -> None:
        """One audit event when a deployment becomes blocked (keyed: not one per tick)."""
        counts: dict[str, int] = {}
        for (name, stage), blocked in sorted(result.blocked.items()):
            counts[blocked.code] = counts.get(blocked.code, 0) + 1
            self.log.warning(
                "deployment blocked",
                extra={"deployment": f"{name}/{stage.value}", "code": blocked.code},
            )
            if blocked.code == "registry_unavailable":
                continue  # an outage, not a state of the deployment
            self._event(
                f"blocked:{name}:{stage.value}:{blocked.version}:{blocked.code}",
                "deployment_blocked",
                blocked.reason,
                strategy=name,
                stage=stage,
                version=blocked.version,
                commit=commit,
                code=blocked.code,
            )
        for code in ("not_registered", "evidence_mismatch", "registry_unavailable"):
            self.metrics.blocked.labels(reason=code).set(counts.get(code, 0))

    def _plan(
        self,
        effective: dict[str, StrategyDeployment],
        observed: dict[tuple[str, Stage], DeploymentStatus],
        observed_aliases: ObservedAliases | None,
        commit: str,
        replays: dict[tuple[str, int], Replay | None],
        result: TickResult,
    ) -> Plan:
        desired = desired_specs(effective.values(), commit, replays)
        aliases = {} if observed_aliases is None else observed_aliases.current
        managed = {name: aliases.get(name, {}) for name in effective}
        for name in {key[0] for key in observed} - set(effective):
            if name in aliases:
                managed[name] = aliases[name]
        drift = {
            (d.strategy, d.stage): d
            for d in ([] if observed_aliases is None else observed_aliases.drift)
            if d.strategy in managed
        }
        full = plan(desired, observed, managed, commit, drift)
        alias_kinds = {ActionKind.SET_ALIAS, ActionKind.CLEAR_ALIAS}
        actions = [
            a
            for a in full.actions
            if (a.strategy, a.stage) not in result.blocked
            and (observed_aliases is not None or a.kind not in alias_kinds)
        ]
        result.drift = {
            (a.strategy, a.stage): drift[(a.strategy, a.stage)]
            for a in actions
            if a.kind in alias_kinds and (a.strategy, a.stage) in drift
        }
        return Plan(commit=commit, actions=actions)

    def _record_drift(self, result: TickResult, commit: str) -> None:
        """An alias moved outside Git: audited once, counted, logged; the plan moves it back."""
        for (name, stage), drift in result.drift.items():  # in plan order
            self.metrics.alias_drift.labels(stage=stage.value).inc()
            self.log.warning(
                "stage alias moved outside Git",
                extra={"deployment": f"{name}/{stage.value}", "found": drift.found},
            )
            self._event(
                f"alias_drift:{name}:{stage.value}:{drift.sequence}:{drift.found}",
                "alias_drift",
                f"the {stage.value} alias of {name} points at "
                + ("nothing" if drift.found is None else f"v{drift.found}")
                + " in the registry, moved outside Git; stratops last set "
                + ("none" if drift.recorded is None else f"v{drift.recorded}"),
                strategy=name,
                stage=stage,
                version=drift.found,
                commit=commit,
                recorded=drift.recorded,
            )


def _load(repo: GitRepo, rev: str) -> Desk:
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
