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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stratops.canary import AnalysisRun, Canary, CanaryTelemetry, RunAction, judge_all
from stratops.canary.inputs import column
from stratops.canary.manual import aborted
from stratops.canary.report import markdown
from stratops.controller.analyses import AnalysisStore, CanaryRequest
from stratops.controller.expectations import ExpectedPnl
from stratops.controller.plan import Action, ActionKind, Key
from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import Stage, duration_seconds
from stratops.model.deployment import DeploymentState, DeploymentStatus
from stratops.model.problems import InvalidDocumentError
from stratops.model.rollback import RollbackRequest
from stratops.model.strategy import CanaryStage, HaltBehaviour, StrategyDeployment
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


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


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
        for key, status in sorted(observed.items()):
            if key[1] is not Stage.CANARY or status.state not in (
                DeploymentState.RUNNING,
                DeploymentState.HALTED,
            ):
                continue
            strategy = declared(key[0])
            entry = None if strategy is None else strategy.spec.stages.canary
            if entry is None or entry.version != status.spec.version:
                continue
            template = templates.get(entry.analysis)
            name = f"{key[0]}/canary v{status.spec.version}"
            if template is None:
                problems.append(f"{name}: no AnalysisTemplate {entry.analysis!r} in force")
                continue
            try:
                stored = self.store.load(key[0], status.spec.version)
                control = self.store.control(key[0], status.spec.version)
                found = self._canary(status, entry, template, stored)
            except (InvalidDocumentError, ConfigError, OSError, ValueError) as exc:
                problems.append(f"{name}: not analysed: {exc}")
                continue
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
        return Canaries(due, final, paused, aborted, previous, tuple(problems))

    def _canary(
        self,
        status: DeploymentStatus,
        entry: CanaryStage,
        template: AnalysisTemplate,
        stored: AnalysisRun | None,
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
        replay, unreplayed = (
            (None, None)
            if self.expected is None
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
            min_duration=entry.min_duration,
            replay=replay,
            unreplayed=unreplayed,
        )
        return canary, clock

    def _telemetry(self, status: DeploymentStatus, window: Window) -> CanaryTelemetry | None:
        """The canary's tables over ``window``; None while its process has written no run."""
        try:
            source = self.runtime.telemetry(status.spec)
        except RuntimeFailure as exc:
            return CanaryTelemetry.failed_to_read(str(exc))
        folder = source.folder
        if folder is None:
            return CanaryTelemetry.failed_to_read(f"{source.uri}: not readable by this controller")
        if not any(folder.rglob(RUN_FILE)):
            return None
        return canary_telemetry(folder, window)


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
                reason=f"canary analysis {run.phase.value}: {run.reason}",
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
