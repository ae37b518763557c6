"""``pnl_vs_backtest`` in the controller: each canary against its version replayed by the paper
engine from the registry's model (:mod:`stratops.controller.expectations`). Real MLflow, real
paper processes at accelerated replay, the judge of :mod:`stratops.canary`."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc
from desks import Desk
from test_canary_judging import CANARY, set_template, start_canary, telemetry, wait_for_bars

from stratops.canary import AnalysisRun, MeasurementPhase, RunAction, RunPhase
from stratops.controller.assembly import ControllerPaths, build_reconciler
from stratops.controller.canaries import CanaryReader, judge_canaries
from stratops.controller.expectations import ExpectedPnl
from stratops.controller.plan import ActionKind
from stratops.controller.reconcile import Reconciler
from stratops.gitops.forge.select import ForgeKind
from stratops.model.analysis import AnalysisTemplate, CanaryMetric
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec
from stratops.model.strategy import HaltBehaviour
from stratops.registry import Registry
from stratops.runtime.base import paper_arguments
from stratops.runtime.local import LocalRuntime
from stratops.telemetry import reader

REPLAYED = """\
apiVersion: stratops.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: trend-canary
spec:
  interval: 15m
  window: 1h
  minSamples: 1
  failureLimit: 1
  consecutiveFailureLimit: 1
  metrics:
    - metric: pnl_vs_backtest
      condition: min
      thresholds: {peak: -1, normal: -1, thin: -1}
"""
COSTLY_PAPER = Path(__file__).parent / "costly_paper.py"


def replayed(run: AnalysisRun) -> list[tuple[MeasurementPhase, float | None, str]]:
    return [
        (m.phase, m.value, m.note)
        for m in run.measurements
        if m.metric is CanaryMetric.PNL_VS_BACKTEST
    ]


def in_force(reconciler: Reconciler) -> Mapping[str, AnalysisTemplate]:
    state = reconciler.store.load()
    commit = state.rules_commit or state.last_applied
    assert commit is not None
    return reconciler.observer.desk(commit).templates


def judged_now(desk: Desk, expected: ExpectedPnl) -> AnalysisRun:
    """The canary's run as the next tick's snapshot would judge it, with ``expected``'s
    replays (nothing stored, nothing applied)."""
    reconciler = desk.reconciler()
    reading = CanaryReader(reconciler.runtime, reconciler.analyses, expected=expected)
    observed = {status.key: status for status in reconciler.runtime.list()}
    state = reconciler.store.load()
    canaries = reading.read(observed, state.applied.get, in_force(reconciler))
    return judge_canaries(canaries)[CANARY]


def test_a_healthy_canary_is_its_own_replay_tick_after_tick(desk: Desk) -> None:
    set_template(desk, REPLAYED, "trend-canary: judged against the version's replay")
    start_canary(desk)
    wait_for_bars(desk, timedelta(hours=2, minutes=30))
    reconciler = desk.reconciler()  # one controller: its replay is kept between ticks
    first = reconciler.tick().analyses[CANARY]
    wait_for_bars(desk, timedelta(hours=5))
    second = reconciler.tick().analyses[CANARY]

    assert len(replayed(second)) > len(replayed(first)) >= 6  # every 15m after the first hour
    assert replayed(second)[: len(replayed(first))] == replayed(first)
    passed = [z for phase, z, _ in replayed(second) if phase is MeasurementPhase.PASSED]
    assert len(passed) >= 6 and set(passed) == {0.0}  # same engine, same bars, same bits
    for phase, z, note in replayed(second):  # a flat hour has no dispersion to compare with
        assert phase is MeasurementPhase.PASSED or (z, note) == (None, "not computable (NaN)")
    assert second.phase is RunPhase.RUNNING  # btc-trend's canary minDuration is 24h

    # the replay, walked tick by tick, is the canary's own pnl, bit for bit
    (status,) = [s for s in reconciler.runtime.list() if s.key == CANARY]
    template = in_force(reconciler)["trend-canary"]
    table, problem = ExpectedPnl(desk.registry).of(
        status.spec, "binance-1m", template, second.started, second.as_of, None
    )
    assert problem is None and table is not None
    own = reader.read(telemetry(desk), "pnl")
    own = own.filter(pc.less_equal(own.column("ts"), table.column("ts")[-1]))
    assert table.select(["ts", "symbol", "net"]).equals(own.select(["ts", "symbol", "net"]))


def test_the_same_inputs_give_the_same_run_whatever_the_replay_cached(desk: Desk) -> None:
    set_template(desk, REPLAYED, "trend-canary: judged against the version's replay")
    start_canary(desk, speed=900)  # 15 minutes a second: a flush every 75 minutes of bars
    wait_for_bars(desk, timedelta(hours=1, minutes=30))
    walked = ExpectedPnl(desk.registry)
    early = judged_now(desk, walked)  # the replay walked to an earlier clock
    wait_for_bars(desk, early.as_of - early.started + timedelta(hours=1))
    (status,) = [s for s in desk.runtime().list() if s.key == CANARY]
    pid = int(status.instance.split(",")[0])
    os.kill(pid, signal.SIGSTOP)  # the canary's clock stands still
    try:
        later = judged_now(desk, walked)
        fresh = judged_now(desk, ExpectedPnl(desk.registry))  # one replay from the first bar
        again = judged_now(desk, ExpectedPnl(desk.registry))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert later.as_of > early.as_of
    assert later.digest == fresh.digest == again.digest
    assert later.canonical == fresh.canonical


def costly_reconciler(desk: Desk, speed: float = 3600.0) -> Reconciler:
    """The desk's controller, whose runtime runs canaries on a venue costlier than the engine."""

    def command(spec: DeploymentSpec, folder: Path) -> list[str]:
        return [
            sys.executable,
            str(COSTLY_PAPER),
            *paper_arguments(spec),
            "--telemetry",
            str(folder),
            "--speed",
            repr(speed),
        ]

    def runtime(root: Path, registry: Registry) -> LocalRuntime:
        return LocalRuntime(
            ControllerPaths(root).runtime,
            command=command,
            env={"MLFLOW_TRACKING_URI": registry.location.tracking_uri},
        )

    return build_reconciler(
        desk.root,
        tracking_uri=desk.registry.location.tracking_uri,
        forge=ForgeKind.LOCAL,
        env={},
        runtime=runtime,
    )


def test_a_canary_whose_orders_pay_more_than_its_evidence_fails(desk: Desk) -> None:
    set_template(desk, REPLAYED, "trend-canary: judged against the version's replay")
    desk.reconciler().tick()  # paper, as usual
    desk.promote_and_merge(1, CANARY[1], 50_000)
    deployed = costly_reconciler(desk).tick()
    assert ActionKind.DEPLOY in [a.kind for a in deployed.applied]
    wait_for_bars(desk, timedelta(hours=6))

    judged = costly_reconciler(desk).tick()
    run = judged.analyses[CANARY]
    assert run.phase is RunPhase.FAILED and run.action is RunAction.ROLLBACK
    assert run.reason.startswith("failed: pnl_vs_backtest ")
    failed = [z for phase, z, _ in replayed(run) if phase is MeasurementPhase.FAILED]
    assert failed and all(z is not None and z < -1 for z in failed)
    measured = [z for _, z, _ in replayed(run) if z is not None]  # a flat hour is not
    assert len(measured) >= 3 and all(z < 0 for z in measured)  # it never earns its replay
    assert judged.plan is not None
    assert ActionKind.HALT in [a.kind for a in judged.plan.actions]


def test_a_model_the_registry_cannot_vouch_for_is_an_error_not_a_failure(desk: Desk) -> None:
    set_template(desk, REPLAYED, "trend-canary: judged against the version's replay")
    start_canary(desk)
    wait_for_bars(desk, timedelta(minutes=1))  # its process loaded its model: it keeps running
    run_id = desk.registry.get_version("btc-trend", 1).run_id
    assert run_id is not None
    (stored,) = [
        path for path in (desk.root / ".stratops").rglob("python_model.pkl") if run_id in str(path)
    ]
    with stored.open("ab") as changed:
        changed.write(b"\0")  # the stored model no longer matches its digest
    wait_for_bars(desk, timedelta(hours=3))

    judged = desk.reconciler().tick()
    run = judged.analyses[CANARY]
    measured = replayed(run)
    assert measured
    for phase, z, note in measured:
        assert (phase, z) == (MeasurementPhase.ERROR, None)
        assert "cannot replay models:/btc-trend/1" in note and "does not match its digest" in note
    assert run.phase in (RunPhase.RUNNING, RunPhase.ERROR)
    assert run.action not in (RunAction.ROLLBACK, RunAction.HALT)  # never a rollback
    assert judged.plan is not None
    assert ActionKind.OPEN_ROLLBACK not in [a.kind for a in judged.plan.actions]


def test_a_halted_canary_is_not_compared_with_a_replay_that_keeps_trading(desk: Desk) -> None:
    set_template(desk, REPLAYED, "trend-canary: judged against the version's replay")
    start_canary(desk)
    wait_for_bars(desk, timedelta(hours=2, minutes=30))
    before = replayed(desk.reconciler().tick().analyses[CANARY])
    assert before and all(phase is not MeasurementPhase.ERROR for phase, _, _ in before)
    desk.runtime().halt(
        "btc-trend", Stage.CANARY, actor="on-call", reason="held", mode=HaltBehaviour.HOLD
    )
    wait_for_bars(desk, timedelta(hours=5))

    judged = desk.reconciler().tick()
    after = replayed(judged.analyses[CANARY])
    assert after[: len(before)] == before and len(after) > len(before)
    for phase, z, note in after[len(before) :]:
        assert (phase, z) == (MeasurementPhase.ERROR, None)
        assert "halted (hold): it no longer trades as its replay" in note
    assert judged.analyses[CANARY].action not in (RunAction.ROLLBACK, RunAction.HALT)
