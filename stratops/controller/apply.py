"""Apply: journal, execute and record; it decides nothing.

Each action is journalled before it runs and crossed out after (:mod:`.journal`), executed
through the runtime or the registry, and recorded in the audit log (keyed, so a replay after a
crash never records twice) with the provenance of the change it applies. What a tick observed
and decided (refusals, rules kept out of force, blocked deployments, aliases moved by hand,
crash loops) is recorded here too, once, in the audit log, the metrics and commit statuses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from stratops.canary import AnalysisRun, RunAction, RunPhase
from stratops.controller.admit import Admission
from stratops.controller.analyses import AnalysisStore
from stratops.controller.audit import COMMIT_APPLIED, AuditLog
from stratops.controller.authorize import Verdict
from stratops.controller.canaries import changed
from stratops.controller.faults import crash_point
from stratops.controller.gate_evaluation import registry_evaluator
from stratops.controller.journal import IntentJournal
from stratops.controller.observability import Metrics
from stratops.controller.plan import RUNTIME_KINDS, Action, ActionKind, Blocked, Key
from stratops.controller.provenance import Provenance, trace
from stratops.controller.snapshot import Snapshot
from stratops.controller.state import ControllerState, StateStore
from stratops.gitops.desk import Desk
from stratops.gitops.errors import ForgeError, GitError, GitOpsError
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import CommitStatus, StatusState
from stratops.gitops.git import GitRepo
from stratops.gitops.ramp import RampStep, open_ramp, ramp_branch
from stratops.gitops.rollback import RollbackOutcome, RollbackState, roll_back
from stratops.gitops.snapshot import MANIFESTS
from stratops.model.aliases import AliasDrift
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.model.strategy import StrategyDeployment
from stratops.registry.errors import RegistryError
from stratops.registry.registry import Registry
from stratops.runtime.base import Runtime, RuntimeFailure
from stratops.unavailable import Unavailable

DEPLOYED_CONTEXT = "stratops/deployed"
FAILURES = (RuntimeFailure, RegistryError, GitOpsError)  # what a failed action raises


SELF_RECORDING = frozenset({ActionKind.OPEN_ROLLBACK, ActionKind.OPEN_RAMP})  # own events


def deferred(action: Action, error: Exception) -> bool:
    """A rollback or a ramp that failed for want of the forge or the remote: its intent stays
    pending and the next tick's recovery retries it (a halt already holds; a ramping canary
    keeps running at its step)."""
    return action.kind in SELF_RECORDING and isinstance(error, Unavailable | GitError)


class Applier:
    def __init__(
        self,
        *,
        repo: GitRepo,
        registry: Registry,
        runtime: Runtime,
        forge: Forge,
        audit: AuditLog,
        store: StateStore,
        journal: IntentJournal,
        analyses: AnalysisStore,
        metrics: Metrics,
        actor: str,
        now: Callable[[], datetime],
        log: logging.Logger,
    ) -> None:
        self.repo = repo
        self.registry = registry
        self.runtime = runtime
        self.forge = forge
        self.audit = audit
        self.store = store
        self.journal = journal
        self.analyses = analyses
        self.metrics = metrics
        self.actor = actor
        self.now = now
        self.log = log
        self.merged: list[int] = []  # pull requests this controller merged into main this tick

    # record

    def event(
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

    def status(self, sha: str, state: StatusState, description: str) -> None:
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

    def record_snapshot(self, snapshot: Snapshot) -> None:
        """A remote that could not be fetched, a rewritten history."""
        if snapshot.fetch_problem is not None:
            self.metrics.refusals.labels(reason="remote_unreachable").inc()
        if snapshot.rewritten:
            head = snapshot.head
            self.event(
                f"history:{head}",
                "history_rewritten",
                snapshot.problems()[-1],
                commit=head,
                applied=snapshot.state.last_applied,
            )
            self.metrics.blocked.labels(reason="history_rewritten").set(1)

    def record_admission(self, snapshot: Snapshot, admission: Admission) -> None:
        """Rules kept out of force, refused changes, a desk that does not validate."""
        head, desk = snapshot.head, snapshot.desk
        assert desk is not None
        self._record_rules(admission.rules_refused, admission.rules_commit)
        self.metrics.blocked.labels(reason="history_rewritten").set(0)
        self.metrics.blocked.labels(reason="refused").set(len(admission.refused))
        for name, (stage, version, verdict) in admission.refused.items():
            self._refuse(name, stage, version, verdict, head)
        if not desk.ok:
            self.event(
                f"invalid:{head}",
                "revision_refused",
                admission.problems[-1],
                commit=head,
                problems=[p.render() for p in desk.problems[:20]],
            )
        if snapshot.observed is None:
            self.metrics.blocked.labels(reason="runtime_unavailable").set(1)

    def record_plan(
        self,
        snapshot: Snapshot,
        blocked: Mapping[Key, Blocked],
        drift: Mapping[Key, AliasDrift],
        planned: int,
    ) -> None:
        """Blocked deployments, aliases moved by hand, crash loops, the registry's outage."""
        commit = snapshot.commit
        if snapshot.aliases is None:
            self.metrics.blocked.labels(reason="registry_unavailable").set(1)
        self._record_blocked(blocked, commit)
        self._record_drift(drift, commit)
        self.metrics.blocked.labels(reason="runtime_unavailable").set(0)
        self.metrics.drift.set(planned)
        for status in (snapshot.observed or {}).values():
            if status.state is DeploymentState.CRASH_LOOP:  # one event per crashed instance
                self.event(
                    f"crash_loop:{status.spec.strategy}:{status.spec.stage.value}:"
                    f"{status.instance}",
                    "crash_loop",
                    status.detail,
                    strategy=status.spec.strategy,
                    stage=status.spec.stage,
                    version=status.spec.version,
                    commit=status.spec.commit,
                )

    def record_analyses(
        self, runs: Mapping[Key, AnalysisRun], previous: Mapping[Key, AnalysisRun | None]
    ) -> None:
        """Store each canary's run; audit a run's start and each change of its phase or of
        what it asks for, once; set the phase gauge."""
        for key, run in changed(runs, previous):
            self.event(
                f"analysis:{run.strategy}:v{run.version}:{run.step}:"
                f"{run.phase.value}:{run.action.value}",
                f"analysis_{run.phase.value}",
                run.reason,
                strategy=run.strategy,
                stage=key[1],
                version=run.version,
                phase=run.phase.value,
                analysis_action=run.action.value,
                template=run.template,
                digest=run.digest,
                measurements=len(run.measurements),
            )
            if run.phase in (RunPhase.FAILED, RunPhase.ERROR, RunPhase.INCONCLUSIVE):
                self.log.warning(
                    "%s/%s v%d: analysis %s: %s",
                    run.strategy,
                    key[1].value,
                    run.version,
                    run.phase.value,
                    run.reason,
                )
            if previous.get(key) is None and run.step > 0:
                self._record_step(key, run)
        for key, run in runs.items():
            self.analyses.save(run)
            # a passed step before the last is not the canary's pass: the registry gets the last
            logs = run.phase.final and not run.live and run.action is not RunAction.RAMP
            if logs and not self.analyses.logged(run):
                self._log_analysis(key, run)
            for phase in RunPhase:
                self.metrics.canary_phase.labels(key[0], key[1].value, phase.value).set(
                    float(phase is run.phase)
                )

    def _record_step(self, key: Key, run: AnalysisRun) -> None:
        """A canary deployed at a later step of its ramp: its analysis starts over."""
        opened = self.analyses.ramped(run.strategy, run.version, run.step - 1)
        through = "" if opened is None else f" through PR #{opened[1]}"
        self.event(
            f"ramp:{run.strategy}:v{run.version}:step{run.step}:deployed",
            "ramp_deployed",
            f"canary at step {run.step + 1} of {run.steps} ({run.allocation:,.0f}){through}: "
            "analysed from a new run",
            strategy=run.strategy,
            stage=key[1],
            version=run.version,
            step=run.step + 1,
            steps=run.steps,
            allocation=run.allocation,
            pull_request=None if opened is None else opened[1],
        )

    def _log_analysis(self, key: Key, run: AnalysisRun) -> None:
        """A final run goes to the registry on its version (the live gate reads it there);
        with MLflow unreachable it is logged at a later tick."""
        try:
            registry_run = self.registry.log_canary_analysis(run)
        except RegistryError as exc:
            self.log.warning("%s v%d: analysis not logged yet: %s", run.strategy, run.version, exc)
            return
        self.analyses.mark_logged(run, registry_run)
        self.event(
            f"analysis_logged:{run.strategy}:v{run.version}:{run.digest}",
            "canary_analysis_logged",
            f"{run.phase.value} analysis logged to the registry (run {registry_run})",
            strategy=run.strategy,
            stage=key[1],
            version=run.version,
            digest=run.digest,
            registry_run=registry_run,
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
        self.event(
            f"policy_refused:{sha}:{refused.code}",
            "policy_refused",
            refused.reason,
            commit=sha,
            code=refused.code,
            in_force=in_force,
        )
        self.status(sha, StatusState.FAILURE, f"rule change refused: {refused.reason}")

    def _refuse(self, name: str, stage: Stage, version: int, verdict: Verdict, head: str) -> None:
        self.metrics.refusals.labels(reason=verdict.code).inc()
        self.event(
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
            self.status(verdict.commit, StatusState.FAILURE, f"refused: {verdict.reason}")

    def _record_blocked(self, blocked: Mapping[Key, Blocked], commit: str) -> None:
        """One audit event when a deployment becomes blocked (keyed: not one per tick)."""
        counts: dict[str, int] = {}
        for (name, stage), found in sorted(blocked.items()):
            counts[found.code] = counts.get(found.code, 0) + 1
            self.log.warning(
                "deployment blocked",
                extra={"deployment": f"{name}/{stage.value}", "code": found.code},
            )
            if found.code == "registry_unavailable":
                continue  # an outage, not a state of the deployment
            self.event(
                f"blocked:{name}:{stage.value}:{found.version}:{found.code}",
                "deployment_blocked",
                found.reason,
                strategy=name,
                stage=stage,
                version=found.version,
                commit=commit,
                code=found.code,
            )
        for code in ("not_registered", "evidence_mismatch", "registry_unavailable"):
            self.metrics.blocked.labels(reason=code).set(counts.get(code, 0))

    def _record_drift(self, drift: Mapping[Key, AliasDrift], commit: str) -> None:
        """An alias moved outside Git: audited once, counted, logged; the plan moves it back."""
        for (name, stage), moved in drift.items():  # in plan order
            self.metrics.alias_drift.labels(stage=stage.value).inc()
            self.log.warning(
                "stage alias moved outside Git",
                extra={"deployment": f"{name}/{stage.value}", "found": moved.found},
            )
            self.event(
                f"alias_drift:{name}:{stage.value}:{moved.sequence}:{moved.found}",
                "alias_drift",
                f"the {stage.value} alias of {name} points at "
                + ("nothing" if moved.found is None else f"v{moved.found}")
                + " in the registry, moved outside Git; stratops last set "
                + ("none" if moved.recorded is None else f"v{moved.recorded}"),
                strategy=name,
                stage=stage,
                version=moved.found,
                commit=commit,
                recorded=moved.recorded,
            )

    # act

    def _execute(self, action: Action, provenance: Provenance) -> None:
        if action.kind in RUNTIME_KINDS:
            assert action.spec is not None
            self.runtime.deploy(action.spec, actor=self.actor, reason=action.reason)
        elif action.kind is ActionKind.REMOVE:
            self.runtime.remove(
                action.strategy, action.stage, actor=self.actor, reason=action.reason
            )
        elif action.kind is ActionKind.HALT:
            self.runtime.halt(
                action.strategy,
                action.stage,
                actor=self.actor,
                reason=action.reason,
                mode=action.halt,
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
        elif action.kind is ActionKind.CLEAR_ALIAS:
            self.registry.clear_stage_alias(
                action.strategy,
                action.stage,
                actor=self.actor,
                reason=action.reason,
                pull_request=provenance.pull_request,
                approvers=provenance.approvers,
            )
        elif action.kind is ActionKind.OPEN_RAMP:
            self._open_ramp(action)
        else:
            assert action.kind is ActionKind.OPEN_ROLLBACK and action.rollback is not None
            outcome = roll_back(
                self.repo,
                self.forge,
                action.rollback,
                author=self.actor,
                as_of=self.now().replace(microsecond=0),
                checkpoint=crash_point,
            )
            self._record_rollback(action, outcome)

    def _open_ramp(self, action: Action) -> None:
        """The ramp pull request of a passed step, once: one already opened for the step's
        analysis (a crash after it opened) is recorded, not opened again."""
        request = action.ramp
        assert request is not None
        branch = ramp_branch(request.strategy, request.version)
        pull = next(
            (
                found
                for found in self.forge.list_pull_requests(state=None, head_branch=branch)
                if request.analysis_digest in found.body
            ),
            None,
        )
        if pull is None:
            step = RampStep(request.number, request.of, request.current, request.allocation)
            opened = open_ramp(
                self.repo,
                self.forge,
                registry_evaluator(self.registry),
                request.strategy,
                request.version,
                step,
                analysis=request.analysis_digest,
                as_of=self.now().replace(microsecond=0),
            )
            pull = opened.pull_request
            assert pull is not None  # a reallocation is not gated: it always opens one
            crash_point("ramp-opened")
        self.analyses.mark_ramped(
            request.strategy, request.version, request.step, request.analysis_digest, pull.number
        )
        self.event(
            f"ramp:{request.strategy}:v{request.version}:{request.analysis_digest}:opened",
            "ramp_opened",
            f"PR #{pull.number}: {action.reason}; it merges with the approvals of a canary raise",
            strategy=request.strategy,
            stage=action.stage,
            version=request.version,
            commit=pull.head_sha,
            pull_request=pull.number,
            pull_request_url=pull.url,
            branch=branch,
            step=request.number,
            steps=request.of,
            allocation=request.allocation,
            from_allocation=request.current,
            analysis_digest=request.analysis_digest,
        )

    def _record_rollback(self, action: Action, outcome: RollbackOutcome) -> None:
        """Each step of a rollback once, keyed by its analysis, with its pull request."""
        request = action.rollback
        assert request is not None
        prefix = f"rollback:{request.strategy}:{request.stage.value}:{request.analysis_digest}"

        def record(step: str, reason: str, commit: str | None = None, **details: object) -> None:
            self.event(
                f"{prefix}:{step}",
                f"rollback_{step.split(':')[0]}",
                reason,
                strategy=action.strategy,
                stage=action.stage,
                version=action.version,
                commit=commit,
                analysis_digest=request.analysis_digest,
                **details,
            )

        pull = outcome.pull_request
        if pull is None:  # obsolete: main no longer runs the version there
            record("obsolete", outcome.detail)
            return
        promotion = outcome.promotion
        how = "reverts" if outcome.reverted else "removes the stage of"
        record(
            "opened",
            f"PR #{pull.number} {how} {(outcome.rollback_of or '')[:12]}: {action.reason}",
            pull.head_sha,
            pull_request=pull.number,
            pull_request_url=pull.url,
            branch=outcome.branch,
            rollback_of=outcome.rollback_of,
            reverted=outcome.reverted,
            promotion_pull_request=None if promotion is None else promotion.pull_request,
            gate_report_digest=None if promotion is None else promotion.gate_report_digest,
        )
        if outcome.state is RollbackState.OPEN:
            record(
                f"waiting:{pull.head_sha}",
                f"PR #{pull.number} not merged: {outcome.waiting}; the deployment stays halted",
                pull.head_sha,
                pull_request=pull.number,
            )
        elif outcome.state is RollbackState.CLOSED:
            record(
                "closed",
                f"PR #{pull.number} was closed unmerged: the deployment stays halted until Git "
                "changes",
                pull_request=pull.number,
            )
        else:
            by = f"by {self.actor}" if outcome.merged else "(found merged)"
            if outcome.merged:
                self.merged.append(pull.number)
            record(
                "merged",
                f"PR #{pull.number} merged as {(pull.merge_sha or '')[:12]} {by}",
                pull.merge_sha,
                pull_request=pull.number,
                merged_by_controller=outcome.merged,
            )

    def _provenance(self, action: Action, commit: str, desk: Desk | None) -> Provenance:
        """Where the change an action applies came from (best effort: never blocks it)."""
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

    def _finish(self, key: str, commit: str, action: Action, desk: Desk | None) -> None:
        """Run an action whose intent is journalled, record it, cross the intent out."""
        provenance = self._provenance(action, commit, desk)
        try:
            self._execute(action, provenance)
        except FAILURES as exc:
            retry = deferred(action, exc)
            self.event(
                f"{key}:error",
                f"{action.kind.value}_{'deferred' if retry else 'failed'}",
                f"{action.reason}: {exc}",
                strategy=action.strategy,
                stage=action.stage,
                version=action.version,
                commit=commit,
                **provenance.details(),
            )
            if not retry:
                self.journal.done(key)
            self.metrics.actions.labels(kind=action.kind.value, outcome="error").inc()
            raise
        crash_point("after-act")
        if action.kind not in SELF_RECORDING:  # a rollback or a ramp records its own steps
            self.event(
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

    def apply(self, action: Action, commit: str, desk: Desk | None = None) -> None:
        """Journal ``action``, run it, record it; raises what a failed action raises."""
        key = action.key(commit)
        self.journal.begin(key, commit, action)
        crash_point("after-intent")
        self._finish(key, commit, action, desk)

    def recover(self) -> list[Action]:
        """Finish the intents a crash left pending, before anything else."""
        finished = []
        for key, commit, action in self.journal.pending():
            try:
                self._finish(key, commit, action, None)
                finished.append(action)
            except FAILURES as exc:
                self.log.warning("pending intent failed", extra={"key": key, "error": str(exc)})
        return finished

    def save(
        self,
        snapshot: Snapshot,
        admission: Admission,
        applied: Sequence[Action],
        failed: Sequence[tuple[Action, str]],
    ) -> None:
        """Every action done: the commit applied, the state saved, the commit's status set."""
        crash_point("before-state")
        state, desk = snapshot.state, snapshot.desk
        if desk is not None and desk.ok:
            head = snapshot.head
            self.event(  # keyed: once per commit, also when a crash lost the state saved next
                f"applied:{head}",
                COMMIT_APPLIED,
                f"reconciled towards {head[:12]}",
                commit=head,
                previous=state.last_applied,
            )
            self.store.save(
                ControllerState(
                    last_applied=head,
                    applied=dict(admission.effective),
                    verified=frozenset(state.verified | admission.verified),
                    rules_commit=admission.rules_commit,
                )
            )
            if head != state.last_applied or applied:
                self._deployed_status(head, admission, applied, failed)
            self.metrics.applied_commit.labels(commit=head).set(1)
        self.journal.compact()
        self.metrics.last_success.set(time.time())

    def _deployed_status(
        self,
        head: str,
        admission: Admission,
        applied: Sequence[Action],
        failed: Sequence[tuple[Action, str]],
    ) -> None:
        rules = admission.rules_refused
        if rules is not None and not rules.retryable:
            self.status(head, StatusState.FAILURE, f"rule change refused: {rules.reason}")
        elif admission.refused or failed:
            refused = ", ".join(sorted(admission.refused))
            why = f"refused: {refused}" if refused else f"{len(failed)} action(s) failed"
            self.status(head, StatusState.FAILURE, f"not fully deployed: {why}")
        else:
            self.status(head, StatusState.SUCCESS, f"deployed: {len(applied)} action(s)")
