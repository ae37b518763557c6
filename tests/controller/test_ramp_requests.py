"""Which passed canary steps ask for a ramp pull request (pure: plain values in, requests out)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from test_plan import running, strategy

from stratops.canary import AnalysisRun, RunAction, RunPhase
from stratops.controller.canaries import Canaries, ramp_requests
from stratops.controller.plan import ActionKind, desired_specs, ramp_actions
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.model.ramp import RampRequest

KEY = ("btc-trend", Stage.CANARY)
RAMP = (20_000.0, 50_000.0, 100_000.0)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(step: int, allocation: float, action: RunAction = RunAction.RAMP) -> AnalysisRun:
    return AnalysisRun(
        strategy="btc-trend",
        version=7,
        template="trend-canary",
        template_digest="a" * 64,
        step=step,
        steps=len(RAMP),
        allocation=allocation,
        started=T0,
        as_of=T0,
        min_duration_seconds=3600,
        phase=RunPhase.PASSED if action in (RunAction.RAMP, RunAction.PROMOTE) else RunPhase.FAILED,
        reason="passed",
        action=action,
    )


def requests(
    judged: AnalysisRun,
    *,
    declared: float,
    runs_at: float,
    ramped: dict[tuple[str, Stage], int] | None = None,
    state: DeploymentState = DeploymentState.RUNNING,
) -> list[RampRequest]:
    desk = strategy(canary={"version": 7, "allocation": declared, "analysis": "trend-canary"})
    spec = desired_specs([desk], "c0ffee")[KEY].model_copy(update={"allocation": runs_at})
    canaries = Canaries(steps={KEY: RAMP}, ramped=ramped or {})
    observed = {KEY: running(spec, state)}
    return ramp_requests(canaries, {KEY: judged}, observed, {"btc-trend": desk})


def test_a_passed_step_asks_for_the_next_one() -> None:
    passed = run(0, 20_000)
    (request,) = requests(passed, declared=20_000, runs_at=20_000)
    assert request == RampRequest(
        strategy="btc-trend",
        version=7,
        step=0,
        number=2,
        of=3,
        current=20_000,
        allocation=50_000,
        analysis_digest=passed.digest,
    )
    (action,) = ramp_actions([request, request])  # one action per passed step
    assert (action.kind, action.stage, action.version) == (ActionKind.OPEN_RAMP, Stage.CANARY, 7)
    assert (
        action.key("c0ffee")
        == action.key("beef")
        != ramp_actions([request.model_copy(update={"analysis_digest": "b" * 64})])[0].key("c0ffee")
    )  # keyed by the analysis, not by main's commit


@pytest.mark.parametrize(
    ("judged", "declared", "runs_at", "ramped"),
    [
        (run(0, 20_000), 20_000, 20_000, {KEY: 4}),  # its pull request is already open
        (run(0, 20_000), 50_000, 20_000, None),  # merged: Git wants the next step already
        (run(0, 20_000), 20_000, 50_000, None),  # the runtime runs another allocation
        (run(2, 100_000, RunAction.PROMOTE), 100_000, 100_000, None),  # the last step
        (run(1, 50_000, RunAction.ROLLBACK), 50_000, 50_000, None),  # a failed step
    ],
)
def test_no_ramp_is_asked_for_otherwise(
    judged: AnalysisRun,
    declared: float,
    runs_at: float,
    ramped: dict[tuple[str, Stage], int] | None,
) -> None:
    assert requests(judged, declared=declared, runs_at=runs_at, ramped=ramped) == []


def test_a_halted_canary_does_not_ramp_until_it_runs_again() -> None:
    passed = run(0, 20_000)
    halted = requests(passed, declared=20_000, runs_at=20_000, state=DeploymentState.HALTED)
    assert halted == []
    assert len(requests(passed, declared=20_000, runs_at=20_000)) == 1
