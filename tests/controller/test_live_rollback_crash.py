"""SIGKILL the controller between a live breach's halt and its rollback pull request, and at
each step of the pull request; each restart continues where it stopped.

Every tick is a ``stratops controller run --once`` process (the deployments are started by a
controller process, not by this one). The live deployment replays an hour a second, so its
``trend-live`` guardrails trip within seconds; the run that halts it is killed before the
halt (``after-intent``), the next one as the rollback branch is pushed, the next once the pull
request is open. The runs after them converge: one halt, one pull request, open, waiting for a
person; once a person merges it, the live stage goes and its alias is cleared.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from desks import Desk
from test_canary_judging import wait_for_bars
from test_crash_safety import controller_once
from test_live_guardrails import BRANCH, guard_rules, open_live
from test_path_to_live import merge

from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog, verify_chain
from stratops.gitops.forge.models import PullState
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState

CRASHES = ("after-intent", "rollback-pushed", "rollback-opened")


def test_a_live_rollback_survives_sigkill_between_halt_and_pull_request(desk: Desk) -> None:
    guard_rules(desk)
    assert controller_once(desk.root) == 0
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    assert controller_once(desk.root) == 0
    pull = open_live(desk, 1, "trend-live")
    desk.publish_gates(pull)
    desk.approve(pull)
    desk.approve(pull, reviewer="carol")
    promotion = merge(desk, pull.number)
    assert controller_once(desk.root, speed=3600) == 0
    wait_for_bars(desk, timedelta(hours=3), stage=Stage.LIVE)

    for crash_at in CRASHES:
        assert controller_once(desk.root, crash_at) == -9, crash_at
    assert controller_once(desk.root) == 0
    assert controller_once(desk.root) == 0  # waiting: nothing done twice

    (rollback,) = desk.forge.list_pull_requests(state=None, head_branch=BRANCH)
    assert rollback.state is PullState.OPEN  # a live rollback waits for a person
    assert dict(desk.repo.commit(rollback.head_sha).trailers)["Rollback-Of"] == promotion
    statuses = {s.spec.stage: s.state for s in desk.runtime().list()}
    assert statuses[Stage.LIVE] is DeploymentState.HALTED
    paths = ControllerPaths(desk.root)
    done = Counter(e.action for e in AuditLog(paths.audit).events())
    assert done["halt"] == done["rollback_opened"] == done["rollback_waiting"] == 1

    desk.approve(rollback)
    merge(desk, rollback.number)
    assert controller_once(desk.root) == 0
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}
    events = AuditLog(paths.audit).events()
    done = Counter(e.action for e in events)
    assert done["rollback_opened"] == 1 and done["rollback_merged"] == 0  # a person merged it
    assert [e.details["pull_request"] for e in events if e.action == "clear_alias"][-1] == (
        rollback.number
    )
    assert verify_chain(paths.audit) is None
    assert not paths.journal.exists()
