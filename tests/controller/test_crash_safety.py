"""SIGKILL the controller at every step of the promotion flow; a restart converges.

The controller runs as a real process (``stratops controller run --once``) with a crash point
set; it kills itself there with SIGKILL. A second run without the crash point must converge:
one process per deployment, every action done and recorded exactly once, the chain intact.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from desks import Desk

from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog, verify_chain
from stratops.controller.faults import CRASH_ENV, CRASH_POINTS
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.runtime.local import _pids_mentioning


def controller_once(root: Path, crash_at: str | None = None, speed: float = 60) -> int:
    env = {k: v for k, v in os.environ.items() if k not in {CRASH_ENV, "MLFLOW_TRACKING_URI"}}
    if crash_at:
        env[CRASH_ENV] = crash_at
    command = [sys.executable, "-m", "stratops", "controller", "run", "--desk", str(root)]
    # Replayed at a minute per second, the canary has no full analysis window yet: what is
    # tested is the promotion's crash safety, not the judge (tests/controller/test_canary_*).
    done = subprocess.run(
        [*command, "--once", "--listen", "", "--forge", "local", "--speed", f"{speed:g}"],
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )
    return done.returncode


def assert_converged(desk: Desk, expected: dict[Stage, int]) -> None:
    runtime = desk.runtime()
    statuses = {s.spec.stage: s for s in runtime.list()}
    assert {stage: s.spec.version for stage, s in statuses.items()} == expected
    assert all(s.state is DeploymentState.RUNNING for s in statuses.values())
    for stage in expected:
        folder = runtime.folder("btc-trend", stage)
        assert len(_pids_mentioning(f"{folder}{os.sep}")) == 1, f"{stage} runs twice"
    assert desk.registry.stage_aliases("btc-trend") == expected
    events = AuditLog(ControllerPaths(desk.root).audit).events()
    done = Counter((e.action, e.stage, e.version) for e in events)
    for stage, version in expected.items():
        assert done[("deploy", stage.value, version)] == 1
        assert done[("set_alias", stage.value, version)] == 1
    assert verify_chain(ControllerPaths(desk.root).audit) is None
    assert not ControllerPaths(desk.root).journal.exists()


@pytest.mark.parametrize("crash_at", ["after-act", "before-state"])
def test_crash_while_deploying_paper(desk: Desk, crash_at: str) -> None:
    assert controller_once(desk.root, crash_at) == -9  # killed by SIGKILL
    assert controller_once(desk.root) == 0
    assert_converged(desk, {Stage.PAPER: 1})


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_crash_while_promoting_to_canary(desk: Desk, crash_at: str) -> None:
    assert controller_once(desk.root) == 0
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    assert controller_once(desk.root, crash_at) == -9
    assert controller_once(desk.root) == 0
    assert controller_once(desk.root) == 0  # idle: nothing more to do or to record
    assert_converged(desk, {Stage.PAPER: 1, Stage.CANARY: 1})
