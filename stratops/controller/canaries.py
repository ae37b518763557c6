"""The canaries of a tick: read what each needs (:class:`CanaryReader`, part of the snapshot),
judge them and decide halts (:func:`judge_canaries`, :func:`canary_actions`, pure).

A canary is judged on its own clock: the time of the last bar its deployment wrote to its
telemetry (the replay clock of a paper canary; wall time for a live one). The run the last tick
stored (:class:`~stratops.controller.analyses.AnalysisStore`) is handed to the judge, which
measures only the windows after it; a final run is not judged again. Its template is the one in
force (the desk at the commit whose rules the controller last accepted), its stage entry the
one applied: a direct push can change neither the thresholds nor the canary being judged.

What a run asks for (``run.action``) becomes plan actions: ``halt`` and ``rollback`` halt the
deployment with its own halt behaviour (flatten, reduce-only, hold), then open the rollback
pull request (:func:`rollback_requests`, the run's markdown report as its body); ``hold``
halts it holding its position (no new risk while a person decides). A halt is planned only
while the deployment is not halted; the rollback once per failed run (its digest).

A live deployment has guardrails too (:meth:`CanaryReader.read_live`): the ``haltOn``
conditions of the template its live entry names (or, unnamed, of the template its version
passed its canary with), judged by the same judge each tick over the trailing window of its
telemetry, with no verdict and no failure counts. A breach halts it in the same tick and opens
the rollback pull request that restores the previous live version; it never merges itself.

A template with ``steps`` ramps the canary: the step judged is the one its applied allocation
runs at (:func:`~stratops.gitops.ramp.step_index`), each step from a run of its own that starts
when the controller first sees the canary at that step (the passed runs of the earlier steps
stay in the store). A passed step that is not the last (``ramp``) opens the pull request of the
next step once (:func:`ramp_requests`); until a person merges it the canary keeps running at
its step, its passed run final. The last step's pass is the canary's pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from stratops.canary import AnalysisRun, Canary, CanaryTelemetry, RunAction, judge_all
from stratops.canary.inputs import column
from stratops.canary.manual import aborted
from stratops.canary.report import markdown
from stratops.controller.analyses import AnalysisStore, CanaryRequest
from stratops.controller.expectations import ExpectedPnl
from stratops.controller.plan import Action, ActionKind, Key
from stratops.gitops.ramp import next_step, step_index
from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import Stage, duration_seconds
from stratops.model.deployment import DeploymentState, DeploymentStatus
from stratops.model.problems import InvalidDocumentError
from stratops.model.ramp import RampRequest
from stratops.model.rollback import RollbackRequest
from stratops.model.strategy import (
    CanaryStage,
    HaltBehaviour,
    LiveStage,
    Stages,
    StrategyDeployment,
)
from stratops.paper.datasets import symbol_regimes
from stratops.paper.errors import ConfigError
from stratops.runtime.base import Runtime, RuntimeFailure
from stratops.telemetry.canary import canary_telemetry
from stratops.telemetry.reader import Window
from stratops.telemetry.schema import RUN_FILE

DEFAULT_DATASET = "binance-1m"  # what the paper engine replays when the evidence names none


@dataclass(frozen=True)
class Canaries:
    """What the judge needs this tick, per canary deployment."""

    due: Mapping[Key, tuple[Canary, datetime]] = field(default_factory=dict)  # canary, clock
    final: Mapping[Key, AnalysisRun] = field(default_factory=dict)  # decided: not judged again
    paused: Mapping[Key, AnalysisRun] = field(default_factory=dict)  # kept as they are
    aborted: Mapping[Key, CanaryRequest] = field(default_factory=dict)  # fail at once
    previous: Mapping[Key, AnalysisRun | None] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    steps: Mapping[Key, tuple[float, ...]] = field(default_factory=dict)  # of ramped canaries
    ramped: Mapping[Key, int] = field(default_factory=dict)  # ramp PR of the stored run


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


Entry = TypeVar("Entry", CanaryStage, LiveStage)


def _canary_entry(stages: Stages) -> CanaryStage | None:
    return stages.canary


def _live_entry(stages: Stages) -> LiveStage | None:
    return stages.live


def _applied(
    observed: Mapping[Key, DeploymentStatus],
    declared: Callable[[str], StrategyDeployment | None],
    stage: Stage,
    entry_of: Callable[[Stages], Entry | None],
) -> Iterator[tuple[Key, DeploymentStatus, Entry]]:
    """The running or halted deployments of ``stage`` that run the version their applied
    declaration gives that stage (``entry_of`` its stages), with that entry."""
    for key, status in sorted(observed.items()):
        if key[1] is not stage or status.state not in (
            DeploymentState.RUNNING,
            DeploymentState.HALTED,
        ):
            continue
        strategy = declared(key[0])
        entry = None if strategy is None else entry_of(strategy.spec.stages)
        if entry is not None and entry.version == status.spec.version:
            yield key, status, entry


class CanaryReader:
    """Reads each running canary's telemetry window, regime profile and stored run."""

    def __init__(
        self,
        runtime: Runtime,
        store: AnalysisStore,
        data_dir: Path | None = None,
        expected: ExpectedPnl | None = None,
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.data_dir = data_dir
        self.expected = expected  # the replays of pnl_vs_backtest; without it, an error

    def read(
        self,
        observed: Mapping[Key, DeploymentStatus],
        declared: Callable[[str], StrategyDeployment | None],
        templates: Mapping[str, AnalysisTemplate],
    ) -> Canaries:
        """The canaries to judge among ``observed``.

        ``declared`` gives a strategy's applied declaration (its canary entry names the
        template and the minimum duration); ``templates`` are those in force.
        """
        due: dict[Key, tuple[Canary, datetime]] = {}
        final: dict[Key, AnalysisRun] = {}
        paused: dict[Key, AnalysisRun] = {}
        aborted: dict[Key, CanaryRequest] = {}
        previous: dict[Key, AnalysisRun | None] = {}
        problems: list[str] = []
        steps: dict[Key, tuple[float, ...]] = {}
        ramped: dict[Key, int] = {}
        for key, status, entry in _applied(observed, declared, Stage.CANARY, _canary_entry):
            template = templates.get(entry.analysis)
            name = f"{key[0]}/canary v{status.spec.version}"
            if template is None:
                problems.append(f"{name}: no AnalysisTemplate {entry.analysis!r} in force")
                continue
            try:
                ramp, step, stored, anew = self._step(status, template)
                control = self.store.control(key[0], status.spec.version)
                found = self._canary(status, entry, template, stored, step, anew)
            except (InvalidDocumentError, ConfigError, OSError, ValueError) as exc:
                problems.append(f"{name}: not analysed: {exc}")
                continue
            if ramp:
                steps[key] = ramp
                opened = self.store.ramped(key[0], status.spec.version, step)
                if stored is not None and opened is not None and opened[0] == stored.digest:
                    ramped[key] = opened[1]
            previous[key] = stored
            if control.aborted is not None:
                aborted[key] = control.aborted
            if stored is not None and stored.phase.final:
                final[key] = stored
            elif control.paused is not None and control.aborted is None:
                if stored is not None:
                    paused[key] = stored
            elif isinstance(found, str):
                problems.extend([f"{name}: {found}"] if found else [])
            else:
                due[key] = found
        return Canaries(due, final, paused, aborted, previous, tuple(problems), steps, ramped)

    def _step(
        self, status: DeploymentStatus, template: AnalysisTemplate
    ) -> tuple[tuple[float, ...], int, AnalysisRun | None, bool]:
        """The template's step allocations, the step the canary runs at, its stored run, and
        whether a new run of the step starts at the canary's clock rather than its first bar.

        A stored run of another allocation (the canary was below the first step, or cut by hand
        within a step) is not this step's: a new run starts, replacing it.
        """
        spec = status.spec
        ramp = tuple(s.allocation for s in template.spec.steps)
        step = step_index(ramp, spec.allocation) if ramp else 0
        stored = self.store.load(spec.strategy, spec.version, step)
        if ramp and stored is not None and stored.allocation != spec.allocation:
            return ramp, step, None, True
        return ramp, step, stored, step > 0

    def _canary(
        self,
        status: DeploymentStatus,
        entry: CanaryStage | LiveStage,
        template: AnalysisTemplate,
        stored: AnalysisRun | None,
        step: int = 0,
        anew: bool = False,
    ) -> tuple[Canary, datetime] | str:
        """The canary and its clock, or why it cannot be judged now ('' while it has no bar)."""
        spec = status.spec
        dataset = spec.replay.dataset if spec.replay is not None else DEFAULT_DATASET
        profile, hourly = symbol_regimes(dataset, spec.symbols[0], self.data_dir)
        if profile is None:
            return f"{dataset} holds no complete hour of {spec.symbols[0]}: no regime profile"
        window = timedelta(seconds=duration_seconds(template.spec.window))
        measured = None if stored is None else stored.measured_until()
        since = None if measured is None else measured - window
        telemetry = self._telemetry(status, Window(since))
        if telemetry is None:
            return ""  # the process has not written its first run yet
        if telemetry.unreadable is not None:
            if stored is None:
                return f"telemetry unreadable: {telemetry.unreadable}"
            interval = timedelta(seconds=duration_seconds(template.spec.interval))
            started, clock = stored.started, stored.as_of + interval  # an error per interval
        else:
            stamps = column(telemetry.pnl, "ts")
            if stamps is None or stamps.size == 0:
                return "" if stored is None else "no telemetry after the last measurement yet"
            clock = telemetry.complete_until or _time(int(stamps.max()))
            started = stored.started if stored is not None else _time(int(stamps.min()))
            if stored is None and anew:
                started = clock  # a new step: analysed from now on, at its allocation
        replay, unreplayed = (
            (None, None)
            if self.expected is None
            else (None, f"halted ({status.halted.value}): it no longer trades as its replay")
            if status.halted is not None  # an error, never a failure: a held canary stays held
            else self.expected.of(spec, dataset, template, started, clock, since)
        )
        canary = Canary(
            strategy=spec.strategy,
            version=spec.version,
            template=template,
            allocation=spec.allocation,
            started=started,
            telemetry=telemetry,
            profile=profile,
            hourly=hourly,
            previous=stored,
            step=step,
            min_duration=entry.min_duration if isinstance(entry, CanaryStage) else None,
            live=isinstance(entry, LiveStage),
            replay=replay,
            unreplayed=unreplayed,
        )
        return canary, clock

    def read_live(
        self,
        observed: Mapping[Key, DeploymentStatus],
        declared: Callable[[str], StrategyDeployment | None],
        templates: Mapping[str, AnalysisTemplate],
    ) -> Canaries:
        """The live deployments to guard among ``observed``: those whose applied live entry
        names a template with ``haltOn`` conditions (or whose version passed its canary with
        one); a breached run is final and is not judged again."""
        due: dict[Key, tuple[Canary, datetime]] = {}
        final: dict[Key, AnalysisRun] = {}
        previous: dict[Key, AnalysisRun | None] = {}
        problems: list[str] = []
        for key, status, entry in _applied(observed, declared, Stage.LIVE, _live_entry):
            name = f"{key[0]}/live v{entry.version}"
            try:
                named = entry.analysis or self.store.passed_template(key[0], entry.version)
                template = None if named is None else templates.get(named)
                if named is not None and template is None:
                    problems.append(f"{name}: no AnalysisTemplate {named!r} in force: unguarded")
                if template is None or not template.spec.halt_on:
                    continue
                stored = self.store.load_live(key[0], entry.version)
                found = self._canary(status, entry, template, stored)
            except (InvalidDocumentError, ConfigError, OSError, ValueError) as exc:
                problems.append(f"{name}: not guarded: {exc}")
                continue
            previous[key] = stored
            if stored is not None and stored.phase.final:
                final[key] = stored
            elif isinstance(found, str):
                problems.extend([f"{name}: {found}"] if found else [])
            else:
                due[key] = found
        return Canaries(due, final, previous=previous, problems=tuple(problems))

    def _telemetry(self, status: DeploymentStatus, window: Window) -> CanaryTelemetry | None:
        """The canary's tables over ``window``; None while its process has written no run."""
        try:
            folder = self.runtime.telemetry_folder(status.spec)
        except RuntimeFailure as exc:
            return CanaryTelemetry.failed_to_read(str(exc))
        if not any(folder.rglob(RUN_FILE)):
            return None
        return canary_telemetry(folder, window)


def combined(canaries: Canaries, live: Canaries) -> Canaries:
    """The canaries and the live deployments, judged together (their keys differ by stage)."""
    return Canaries(
        {**canaries.due, **live.due},
        {**canaries.final, **live.final},
        {**canaries.paused, **live.paused},
        {**canaries.aborted, **live.aborted},
        {**canaries.previous, **live.previous},
        (*canaries.problems, *live.problems),
        {**canaries.steps, **live.steps},
        {**canaries.ramped, **live.ramped},
    )


def judge_canaries(canaries: Canaries) -> dict[Key, AnalysisRun]:
    """Every canary's run after this tick: the due ones judged on their clocks, the final and
    paused ones as they were, the aborted ones failed."""
    runs: dict[Key, AnalysisRun] = {**canaries.final, **canaries.paused}
    by_clock: dict[datetime, list[Key]] = {}
    for key, (_, clock) in canaries.due.items():
        by_clock.setdefault(clock, []).append(key)
    for clock, keys in sorted(by_clock.items()):
        judged = judge_all([canaries.due[key][0] for key in keys], clock)
        runs.update(zip(keys, judged, strict=True))
    for key, request in canaries.aborted.items():
        if key in runs:
            runs[key] = aborted(runs[key], request.by, request.reason, request.at)
    return dict(sorted(runs.items()))


HALTING = {
    RunAction.HALT: None,  # the deployment's own halt behaviour
    RunAction.ROLLBACK: None,
    RunAction.HOLD: HaltBehaviour.HOLD,  # keep the position, take no new risk
}


def _desired(run: AnalysisRun, key: Key, desired: Mapping[str, StrategyDeployment]) -> bool:
    """Whether Git still wants the judged version in its stage (a merged rollback does not)."""
    strategy = desired.get(key[0])
    entry = None if strategy is None else getattr(strategy.spec.stages, key[1].value)
    return entry is not None and entry.version == run.version


def _judged(run: AnalysisRun) -> str:
    return "live guardrails" if run.live else "canary analysis"


def canary_actions(
    runs: Mapping[Key, AnalysisRun],
    observed: Mapping[Key, DeploymentStatus],
    desired: Mapping[str, StrategyDeployment],
) -> list[Action]:
    """The halts the runs ask for, for deployments Git still wants and not halted yet."""
    actions = []
    for key, run in runs.items():
        status = observed.get(key)
        if run.action not in HALTING or status is None or not _desired(run, key, desired):
            continue
        if status.state is DeploymentState.HALTED or status.halted is not None:
            continue
        actions.append(
            Action(
                kind=ActionKind.HALT,
                strategy=key[0],
                stage=key[1],
                version=run.version,
                halt=HALTING[run.action],
                reason=f"{_judged(run)} {run.phase.value}: {run.reason}",
            )
        )
    return actions


ROLLING_BACK = frozenset({RunAction.HALT, RunAction.ROLLBACK})


def rollback_requests(
    runs: Mapping[Key, AnalysisRun],
    observed: Mapping[Key, DeploymentStatus],
    desired: Mapping[str, StrategyDeployment],
) -> list[RollbackRequest]:
    """A rollback pull request for each failed run Git still deploys (halted first, see
    :func:`canary_actions`); the executor opens one per analysis digest, whatever the number
    of ticks that ask."""
    requests = []
    for key, run in runs.items():
        status = observed.get(key)
        if run.action not in ROLLING_BACK or status is None or not _desired(run, key, desired):
            continue
        halted = (
            f"halted ({status.halted.value}): {status.detail}"
            if status.halted is not None
            else f"halted ({status.spec.halt.value}) by the controller at this tick"
        )
        requests.append(
            RollbackRequest(
                strategy=key[0],
                stage=key[1],
                version=run.version,
                analysis_digest=run.digest,
                report=markdown(run),
                tripped=run.reason,
                halt=f"{halted}; positions {status.positions or 'flat'}",
            )
        )
    return requests


def changed(
    runs: Mapping[Key, AnalysisRun], previous: Mapping[Key, AnalysisRun | None]
) -> Iterable[tuple[Key, AnalysisRun]]:
    """The runs whose phase or action differs from the stored one (new runs included)."""
    for key, run in runs.items():
        before = previous.get(key)
        if before is None or (before.phase, before.action) != (run.phase, run.action):
            yield key, run


def ramp_requests(
    canaries: Canaries,
    runs: Mapping[Key, AnalysisRun],
    observed: Mapping[Key, DeploymentStatus],
    desired: Mapping[str, StrategyDeployment],
) -> list[RampRequest]:
    """The ramp pull request of each passed step that is not the last, while Git and the
    runtime still run the canary at that step's allocation, it is not halted (no new risk
    while halted), and no ramp was opened for the run (its pull request open, merged or
    closed: one per passed step)."""
    requests = []
    for key, run in runs.items():
        status = observed.get(key)
        strategy = desired.get(key[0])
        entry = None if strategy is None else strategy.spec.stages.canary
        if (
            run.action is not RunAction.RAMP
            or key in canaries.ramped
            or status is None
            or status.state is not DeploymentState.RUNNING
            or status.halted is not None
            or entry is None
            or (entry.version, entry.allocation) != (run.version, run.allocation)
            or status.spec.allocation != run.allocation
        ):
            continue
        step = next_step(entry, canaries.steps.get(key, ()))
        if step is None:
            continue
        requests.append(
            RampRequest(
                strategy=key[0],
                version=run.version,
                step=run.step,
                number=step.number,
                of=step.of,
                current=step.current,
                allocation=step.allocation,
                analysis_digest=run.digest,
            )
        )
    return requests
