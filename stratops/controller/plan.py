"""The plan: a pure function (desired, observed) → ordered actions with reasons.

Like a terraform plan it is a plain value tied to the snapshot it was built from (the desk
commit); reasons are for people, never for decisions. Order: deployments into live first,
then canary, then paper (a promotion starts the new version before anything is removed), then
re-allocations and restarts, then removals, then registry alias moves. ``HALT`` and
``OPEN_ROLLBACK`` (and ``OPEN_RAMP``, a passed canary step) are in the vocabulary for the
canary judge, which emits them; the planner of desired state never does. A rollback under way
(its pull request open, the deployment halted) is planned again every tick from its pull
request until it merges or is closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from stratops.model.aliases import AliasDrift, ObservedAliases
from stratops.model.base import STAGE_ORDER, Stage
from stratops.model.deployment import DeploymentSpec, DeploymentState, DeploymentStatus, Replay
from stratops.model.ramp import RampRequest
from stratops.model.rollback import RollbackRequest
from stratops.model.strategy import HaltBehaviour, StrategyDeployment

Key = tuple[str, Stage]
VersionKey = tuple[str, int]


class ActionKind(StrEnum):
    DEPLOY = "deploy"  # nothing runs for (strategy, stage): start the version
    REPLACE = "replace"  # another version runs: start this one in its place
    REALLOCATE = "reallocate"  # same version, new allocation
    RESTART = "restart"  # should run but has failed: self-heal
    REMOVE = "remove"  # the stage left the desired state
    SET_ALIAS = "set_alias"  # registry stage alias → version
    CLEAR_ALIAS = "clear_alias"  # registry stage alias removed
    HALT = "halt"  # stop trading, apply the deployment's halt behaviour, keep it halted
    OPEN_ROLLBACK = "open_rollback"  # open the rollback pull request of a failed canary
    OPEN_RAMP = "open_ramp"  # open the pull request of a canary's next allocation step


RUNTIME_KINDS = {
    ActionKind.DEPLOY,
    ActionKind.REPLACE,
    ActionKind.REALLOCATE,
    ActionKind.RESTART,
}


class Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ActionKind
    strategy: str
    stage: Stage
    version: int | None
    from_version: int | None = None
    spec: DeploymentSpec | None = None
    instance: str | None = Field(None, description="The failed instance a restart replaces.")
    halt: HaltBehaviour | None = Field(
        None, description="How a HALT stops trading; None: the deployment's own behaviour."
    )
    rollback: RollbackRequest | None = Field(
        None, description="What an OPEN_ROLLBACK rolls back, and the failed analysis why."
    )
    ramp: RampRequest | None = Field(
        None, description="The step an OPEN_RAMP raises a canary to, after which analysis."
    )
    reason: str

    def key(self, commit: str) -> str:
        """Idempotency key: the same action planned from the same commit is the same work.

        A rollback is the same work for the same failed analysis, whatever main's commit.
        """
        if self.rollback is not None:
            return f"{self.kind.value}:{self.strategy}:{self.stage.value}:{self.version}:" + (
                self.rollback.analysis_digest
            )
        if self.ramp is not None:  # likewise, a ramp is the same work for the same passed step
            return f"{self.kind.value}:{self.strategy}:{self.stage.value}:{self.version}:" + (
                self.ramp.analysis_digest
            )
        key = f"{commit}:{self.kind.value}:{self.strategy}:{self.stage.value}:{self.version}"
        return f"{key}:{self.instance}" if self.instance else key


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    commit: str
    actions: list[Action]

    @property
    def empty(self) -> bool:
        return not self.actions


def model_uri(strategy: str, version: int) -> str:
    return f"models:/{strategy}/{version}"


def desired_specs(
    strategies: Iterable[StrategyDeployment],
    commit: str,
    replays: Mapping[tuple[str, int], Replay | None] | None = None,
) -> dict[Key, DeploymentSpec]:
    """One deployment spec per (strategy, stage) the desk declares.

    ``replays`` holds what each (strategy, version) replays: its evidence's dataset and window.
    """
    replays = replays or {}
    specs: dict[Key, DeploymentSpec] = {}
    for strategy in strategies:
        for stage, entry in strategy.spec.stages.items():
            specs[(strategy.name, stage)] = DeploymentSpec(
                strategy=strategy.name,
                stage=stage,
                version=entry.version,
                allocation=entry.allocation,
                model_uri=model_uri(strategy.name, entry.version),
                strategy_type=strategy.spec.strategy_type.value,
                venue=strategy.spec.venue,
                symbols=tuple(strategy.spec.symbols),
                halt=strategy.spec.halt,
                commit=commit,
                replay=replays.get((strategy.name, entry.version)),
            )
    return specs


def _stage_rank(key: Key) -> tuple[int, str]:
    return (-STAGE_ORDER.index(key[1]), key[0])


def _runtime_action(spec: DeploymentSpec, status: DeploymentStatus | None) -> Action | None:
    base = {"strategy": spec.strategy, "stage": spec.stage, "version": spec.version, "spec": spec}
    if status is None:
        return Action(kind=ActionKind.DEPLOY, reason="declared in Git, not running", **base)
    running = status.spec
    if running.version != spec.version:
        return Action(
            kind=ActionKind.REPLACE,
            from_version=running.version,
            reason=f"Git declares v{spec.version}, v{running.version} runs",
            **base,
        )
    if status.state in (DeploymentState.HALTED, DeploymentState.CRASH_LOOP):
        return None  # a halt holds until Git changes; a crash loop waits for its backoff
    if running.allocation != spec.allocation:
        return Action(
            kind=ActionKind.REALLOCATE,
            from_version=running.version,
            reason=f"allocation {running.allocation:,.0f} → {spec.allocation:,.0f}",
            **base,
        )
    if status.state is DeploymentState.FAILED:
        return Action(
            kind=ActionKind.RESTART,
            instance=status.instance or None,
            reason=f"failed: {status.detail}",
            **base,
        )
    return None


def _drifted(drift: AliasDrift | None) -> str:
    if drift is None:
        return ""
    found = "deleted" if drift.found is None else f"at v{drift.found}"
    recorded = "never set it" if drift.recorded is None else f"set v{drift.recorded}"
    return f"moved outside Git ({found}, stratops {recorded}): "


def plan(
    desired: Mapping[Key, DeploymentSpec],
    observed: Mapping[Key, DeploymentStatus],
    aliases: Mapping[str, Mapping[Stage, int]],
    commit: str,
    drift: Mapping[Key, AliasDrift] | None = None,
) -> Plan:
    """Actions that move ``observed`` (runtime, registry aliases) to ``desired``.

    An alias in ``drift`` was moved outside Git (by hand in MLflow): its move back says so.
    """
    drift = drift or {}
    changes = [
        action
        for key in sorted(desired, key=_stage_rank)
        if (action := _runtime_action(desired[key], observed.get(key))) is not None
    ]
    order = {ActionKind.DEPLOY: 0, ActionKind.REPLACE: 0, ActionKind.REALLOCATE: 1}
    changes.sort(key=lambda a: order.get(a.kind, 2))
    removals = [
        Action(
            kind=ActionKind.REMOVE,
            strategy=key[0],
            stage=key[1],
            version=None,
            from_version=observed[key].spec.version,
            reason="no longer declared in Git",
        )
        for key in sorted(observed, key=_stage_rank)
        if key not in desired
    ]
    alias_moves = []
    for key in sorted(desired, key=_stage_rank):
        strategy, stage = key
        current = aliases.get(strategy, {}).get(stage)
        if current != desired[key].version:
            alias_moves.append(
                Action(
                    kind=ActionKind.SET_ALIAS,
                    strategy=strategy,
                    stage=stage,
                    version=desired[key].version,
                    from_version=current,
                    reason=_drifted(drift.get(key))
                    + f"alias {stage.value} → v{desired[key].version}",
                )
            )
    for strategy in sorted(aliases):
        for stage, version in sorted(
            aliases[strategy].items(), key=lambda i: STAGE_ORDER.index(i[0])
        ):
            if (strategy, stage) not in desired:
                alias_moves.append(
                    Action(
                        kind=ActionKind.CLEAR_ALIAS,
                        strategy=strategy,
                        stage=stage,
                        version=None,
                        from_version=version,
                        reason=_drifted(drift.get((strategy, stage)))
                        + f"{stage.value} no longer declared",
                    )
                )
    return Plan(commit=commit, actions=[*changes, *removals, *alias_moves])


@dataclass(frozen=True)
class Blocked:
    """A declared deployment the controller will not start: ``code`` is stable."""

    version: int
    code: str  # not_registered | evidence_mismatch | registry_unavailable
    reason: str


Evidence = Mapping[VersionKey, Replay | Blocked | None]
"""Per (strategy, version) the registry was asked about: what it replays, or why it is blocked."""

ALIAS_KINDS = frozenset({ActionKind.SET_ALIAS, ActionKind.CLEAR_ALIAS})


@dataclass(frozen=True)
class TickPlan:
    """The plan of one tick, with the deployments it leaves out and the aliases it moves back."""

    plan: Plan
    blocked: Mapping[Key, Blocked]
    drift: Mapping[Key, AliasDrift]  # aliases moved outside Git that the plan moves back


def replays(
    effective: Mapping[str, StrategyDeployment],
    observed: Mapping[Key, DeploymentStatus],
    evidence: Evidence,
) -> tuple[dict[VersionKey, Replay | None], dict[Key, Blocked]]:
    """What each declared version replays, and the deployments blocked from (re)starting.

    A version running everywhere it is declared replays what it runs: nothing is to be
    (re)started, so it needs no verification. Any other version takes its replay from the
    registry's ``evidence``: one that is not registered, or whose evidence does not verify,
    blocks every deployment that declares it (a running one is not restarted either).
    """
    declaring: dict[VersionKey, list[Key]] = {}
    for name, strategy in effective.items():
        for stage, entry in strategy.spec.stages.items():
            declaring.setdefault((name, entry.version), []).append((name, stage))
    found: dict[VersionKey, Replay | None] = {}
    blocked: dict[Key, Blocked] = {}
    for version, keys in declaring.items():
        running = [observed.get(key) for key in keys]
        if all(
            status is not None
            and status.spec.version == version[1]
            and status.state is DeploymentState.RUNNING
            for status in running
        ):
            status = running[0]
            assert status is not None
            found[version] = status.spec.replay
            continue
        verified = evidence.get(version)
        if isinstance(verified, Blocked):
            blocked.update(dict.fromkeys(keys, verified))
        else:
            found[version] = verified
    return found, blocked


def rollback_actions(requests: Iterable[RollbackRequest]) -> list[Action]:
    """One ``OPEN_ROLLBACK`` per failed analysis (the first request of each digest counts)."""
    found: dict[tuple[str, str], Action] = {}
    for request in requests:
        tripped = request.tripped.strip()
        reason = (
            f"rollback PR #{request.pull_request} under way"
            if request.pull_request is not None
            else f"analysis {request.analysis_digest[:12]} failed"
            + (f": {tripped}" if tripped else "")
        )
        found.setdefault(
            (request.strategy, request.analysis_digest),
            Action(
                kind=ActionKind.OPEN_ROLLBACK,
                strategy=request.strategy,
                stage=request.stage,
                version=request.version,
                rollback=request,
                reason=reason,
            ),
        )
    return list(found.values())


def ramp_actions(requests: Iterable[RampRequest]) -> list[Action]:
    """One ``OPEN_RAMP`` per passed step (the first request of each digest counts)."""
    found: dict[str, Action] = {}
    for request in requests:
        found.setdefault(
            request.analysis_digest,
            Action(
                kind=ActionKind.OPEN_RAMP,
                strategy=request.strategy,
                stage=Stage.CANARY,
                version=request.version,
                ramp=request,
                reason=f"canary analysis {request.analysis_digest[:12]} passed at "
                f"{request.current:,.0f}: ramp to step {request.number} of {request.of} "
                f"({request.allocation:,.0f})",
            ),
        )
    return list(found.values())


def plan_tick(
    effective: Mapping[str, StrategyDeployment],
    observed: Mapping[Key, DeploymentStatus],
    aliases: ObservedAliases | None,
    evidence: Evidence,
    commit: str,
    rollbacks: Iterable[RollbackRequest] = (),
) -> TickPlan:
    """The plan towards ``effective``: blocked deployments left out, aliases only when read.

    ``aliases`` is None when the registry could not be read: no alias is moved then. Aliases
    of strategies that left the desk but still run are managed until they are removed.
    ``rollbacks`` (failed analyses, and rollbacks under way) come last, as ``OPEN_ROLLBACK``.
    """
    versions, blocked = replays(effective, observed, evidence)
    desired = desired_specs(effective.values(), commit, versions)
    current = {} if aliases is None else aliases.current
    managed = {name: current.get(name, {}) for name in effective}
    for name in {key[0] for key in observed} - set(effective):
        if name in current:
            managed[name] = current[name]
    drift = {
        (d.strategy, d.stage): d
        for d in ([] if aliases is None else aliases.drift)
        if d.strategy in managed
    }
    full = plan(desired, observed, managed, commit, drift)
    actions = [
        a
        for a in full.actions
        if (a.strategy, a.stage) not in blocked
        and (aliases is not None or a.kind not in ALIAS_KINDS)
    ]
    moved_back = {
        (a.strategy, a.stage): drift[(a.strategy, a.stage)]
        for a in actions
        if a.kind in ALIAS_KINDS and (a.strategy, a.stage) in drift
    }
    actions.extend(rollback_actions(rollbacks))
    return TickPlan(Plan(commit=commit, actions=actions), blocked, moved_back)
