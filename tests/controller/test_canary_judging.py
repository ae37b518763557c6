"""The controller judges running canaries each tick, on their replay clock, and halts on a
``haltOn`` breach: real paper processes, real telemetry, the judge of :mod:`stratops.canary`."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc
from desks import Desk
from typer.testing import CliRunner

from stratops.canary import RunAction, RunPhase
from stratops.cli.main import app
from stratops.controller.analyses import AnalysisStore
from stratops.controller.assembly import ControllerPaths
from stratops.controller.plan import ActionKind
from stratops.gitops.forge.models import PullState
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState, DeploymentStatus
from stratops.model.strategy import HaltBehaviour
from stratops.telemetry import reader

CANARY = ("btc-trend", Stage.CANARY)


def telemetry(desk: Desk, stage: Stage = Stage.CANARY, version: int = 1) -> Path:
    return desk.runtime().folder("btc-trend", stage) / f"v{version}" / "telemetry"


def wait_for_bars(
    desk: Desk,
    span: timedelta,
    timeout: float = 90.0,
    stage: Stage = Stage.CANARY,
    version: int = 1,
) -> None:
    """Until the process of the deployment in ``stage`` has written ``span`` of replayed bars."""
    deadline = time.monotonic() + timeout
    folder = telemetry(desk, stage, version)
    while time.monotonic() < deadline:
        try:
            stamps = reader.read(folder, "pnl", columns=["ts"]).column("ts")
        except Exception:
            stamps = None
        if (
            stamps is not None
            and len(stamps)
            and (pc.max(stamps).as_py() - pc.min(stamps).as_py() >= span)
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"the canary did not replay {span} within {timeout:.0f}s")


def canary_status(desk: Desk) -> DeploymentStatus:
    return {s.key: s for s in desk.runtime().list()}[CANARY]


def start_canary(desk: Desk, speed: float = 3600.0) -> None:
    """Paper, then the canary, replayed at ``speed`` (the evidence's data lasts 9 hours)."""
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    deployed = desk.reconciler(speed).tick()
    assert ActionKind.DEPLOY in [a.kind for a in deployed.applied]


def analysis_events(desk: Desk) -> list[dict[str, object]]:
    return [
        {"phase": e.details["phase"], "digest": e.details["digest"], "version": e.version}
        for e in desk.reconciler().audit.events()
        if e.action.startswith("analysis_")
    ]


def test_a_running_canary_is_judged_each_tick_and_its_run_kept(desk: Desk) -> None:
    start_canary(desk)
    wait_for_bars(desk, timedelta(hours=4, minutes=30))  # trend-canary: 4h window, 15m interval

    first = desk.reconciler().tick()
    run = first.analyses[CANARY]
    assert (run.strategy, run.version, run.template) == ("btc-trend", 1, "trend-canary")
    assert ("btc-trend", Stage.PAPER) not in first.analyses  # paper is not judged
    assert run.measurements, "a full window has been replayed: measurements are due"
    assert {m.end - m.start for m in run.measurements} == {timedelta(hours=4)}
    first_bar = pc.min(reader.read(telemetry(desk), "pnl", columns=["ts"]).column("ts")).as_py()
    assert run.started == first_bar  # the canary's own clock: replayed market time
    assert run.as_of >= run.started + timedelta(hours=4)
    assert min(m.start for m in run.measurements) == run.started
    stored = AnalysisStore(ControllerPaths(desk.root).root / ".stratops/controller/analysis")
    assert stored.load("btc-trend", 1) == run
    assert analysis_events(desk) == [{"phase": run.phase.value, "digest": run.digest, "version": 1}]

    wait_for_bars(desk, timedelta(hours=6))
    second = desk.reconciler().tick().analyses[CANARY]
    if not run.phase.final:  # the judge carries on from the stored run: history is kept
        assert second.measurements[: len(run.measurements)] == run.measurements
        assert len(second.measurements) > len(run.measurements)
        assert second.started == run.started
    phases = [e["phase"] for e in analysis_events(desk)]
    assert len(phases) == len(set(phases))  # an event per phase, not per tick
    metrics = desk.reconciler().metrics.render().decode()
    assert "stratops_canary_phase" in metrics


def test_a_halt_on_breach_halts_the_canary_within_one_tick(desk: Desk) -> None:
    template = desk.root / "manifests" / "analysis" / "trend-canary.yaml"
    text = (
        template.read_text()
        .replace("above: 0.05", "above: 0.0000001")
        .replace("window: 4h", "window: 1h")
    )
    template.write_text(text)
    desk.git("commit", "-qam", "trend-canary: halt on any drawdown (before the first tick)")
    desk.git("push", "-q", "origin", "HEAD:main")
    start_canary(desk)
    wait_for_bars(desk, timedelta(hours=8))

    reconciler = desk.reconciler()
    judged = reconciler.tick()
    run = judged.analyses[CANARY]
    assert run.phase is RunPhase.FAILED and run.halt and run.action is RunAction.HALT
    assert "drawdown" in run.reason
    assert judged.plan is not None
    halts = [a for a in judged.plan.actions if a.kind is ActionKind.HALT]
    assert [(a.strategy, a.stage, a.halt) for a in halts] == [("btc-trend", Stage.CANARY, None)]
    assert judged.plan.actions[0] == halts[0]  # stopping risk comes first
    assert halts[0] in judged.applied
    status = canary_status(desk)
    assert status.state is DeploymentState.HALTED
    assert status.halted is HaltBehaviour.FLATTEN  # btc-trend's halt: flatten
    deadline = time.monotonic() + 30
    while status.positions.get("BTC/USDT") and time.monotonic() < deadline:
        time.sleep(0.2)  # the process flattens at its next bar
        status = canary_status(desk)
    assert status.positions.get("BTC/USDT") == 0.0

    record = desk.registry.canary_analysis("btc-trend", 1)  # the final run, on its version
    assert record is not None and record.recorded_digest == record.stored_digest == run.digest
    assert record.phase == "failed"

    exported = reconciler.metrics.render().decode()  # what canary_unsuccessful alerts on
    assert 'stratops_canary_phase{phase="failed",stage="canary",strategy="btc-trend"} 1.0' in (
        exported
    )
    assert 'stratops_canary_phase{phase="running",stage="canary",strategy="btc-trend"} 0.0' in (
        exported
    )
    kinds = [a.kind for a in judged.applied]
    assert kinds.index(ActionKind.HALT) < kinds.index(ActionKind.OPEN_ROLLBACK)
    (pull,) = desk.forge.list_pull_requests(state=None, head_branch="rollback/btc-trend/v1-canary")
    assert pull.state is PullState.MERGED and pull.author == "stratops-controller"
    assert f"Analysis-Digest: {run.digest}" in pull.body
    assert judged.merged == (pull.number,)  # the loop ticks again at once
    assert "| drawdown |" in pull.body and run.reason in pull.body  # the analysis report

    again = desk.reconciler().tick()  # main no longer declares the canary: it goes
    assert {a.kind for a in again.applied} == {ActionKind.REMOVE, ActionKind.CLEAR_ALIAS}
    assert again.analyses[CANARY] == run  # a final run is not judged again
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}
    idle = desk.reconciler().tick()
    assert idle.plan is not None and idle.plan.empty
    assert CANARY not in idle.analyses  # no canary is declared or applied any more
    events = desk.reconciler().audit.events()
    halted = [e for e in events if e.action == "halt"]
    assert len(halted) == 1 and "drawdown" in halted[0].reason
    assert [e.details["digest"] for e in events if e.action == "canary_analysis_logged"] == [
        run.digest
    ]
    story = [e.action for e in events if e.stage == "canary"]
    assert story[story.index("analysis_failed") :] == [
        "analysis_failed",  # recorded with the plan,
        "canary_analysis_logged",  # logged to the registry,
        "halt",  # then the plan: the halt first,
        "rollback_opened",
        "rollback_merged",
        "remove",  # and the next tick applies the merged rollback
        "clear_alias",
    ]


def canary_cli(desk: Desk, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["canary", *args, "--desk", str(desk.root)])
    return done.exit_code, done.output


LENIENT = """\
apiVersion: stratops.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: trend-canary
spec:
  interval: 15m
  window: 1h
  minSamples: 1
  metrics:
    - metric: slippage_bps
      condition: max
      thresholds: {peak: 1000, normal: 1000, thin: 1000}
"""


def set_template(desk: Desk, text: str, message: str) -> None:
    """Change trend-canary before the controller's first tick (its rules are then trusted)."""
    (desk.root / "manifests" / "analysis" / "trend-canary.yaml").write_text(text)
    desk.git("commit", "-qam", message)
    desk.git("push", "-q", "origin", "HEAD:main")


def test_on_call_pauses_resumes_and_aborts_a_canary(desk: Desk) -> None:
    set_template(desk, LENIENT, "trend-canary: a template this canary passes")
    assert canary_cli(desk, "status", "btc-trend")[0] == 1  # nothing analysed yet
    start_canary(desk, speed=900)  # 15 minutes a second: the replay lasts half a minute
    wait_for_bars(desk, timedelta(hours=1, minutes=30))
    judged = desk.reconciler().tick().analyses[CANARY]
    assert not judged.phase.final

    code, shown = canary_cli(desk, "status", "-o", "json")
    assert code == 0, shown
    [view] = json.loads(shown)
    assert (view["strategy"], view["version"], view["phase"]) == ("btc-trend", 1, "running")
    assert view["measurements"] == len(judged.measurements)
    assert view["time_left_seconds"] > 0  # btc-trend's canary minDuration is 24h
    assert {limit["metric"] for limit in view["limits"]} == {
        m.metric.value for m in judged.measurements
    }
    assert canary_cli(desk, "status", "btc-trend")[0] == 0

    code, shown = canary_cli(
        desk, "pause", "btc-trend", "--reason", "venue maintenance", "--as", "olga"
    )
    assert code == 0, shown
    wait_for_bars(desk, judged.as_of - judged.started + timedelta(hours=1))
    paused = desk.reconciler().tick().analyses[CANARY]
    assert paused == judged  # nothing measured while paused
    assert canary_cli(desk, "resume", "btc-trend", "--reason", "over", "--as", "olga")[0] == 0
    wait_for_bars(desk, judged.as_of - judged.started + timedelta(hours=2))
    resumed = desk.reconciler().tick().analyses[CANARY]
    assert len(resumed.measurements) > len(judged.measurements)  # the paused windows too

    code, shown = canary_cli(
        desk, "abort", "btc-trend", "--reason", "fills look wrong", "--as", "olga"
    )
    assert code == 0, shown
    result = desk.reconciler().tick()
    run = result.analyses[CANARY]
    assert (run.phase, run.action) == (RunPhase.FAILED, RunAction.ROLLBACK)
    assert "aborted by olga" in run.reason and "fills look wrong" in run.reason
    assert canary_status(desk).state is DeploymentState.HALTED
    assert canary_cli(desk, "abort", "btc-trend", "--reason", "again", "--as", "olga")[0] == 1
    requests = [
        (e.action, e.actor, e.reason)
        for e in desk.reconciler().audit.events()
        if e.action.startswith("canary_")
    ]
    assert requests[:3] == [
        ("canary_pause", "olga", "venue maintenance"),
        ("canary_resume", "olga", "over"),
        ("canary_abort", "olga", "fills look wrong"),
    ]
