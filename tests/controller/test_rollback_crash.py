"""SIGKILL the controller at every step of a rollback; each restart continues where it stopped.

The intent to roll back is journalled as the controller journals it before acting (a kill
between the halt and the pull request leaves exactly that); then ``stratops controller run
--once`` is started again and again, each run killed at the next crash point, so each point
is recovered from by the run after it. The last run converges: one pull request, merged, the
canary stopped, its alias cleared, every step recorded once, the chain intact.
"""

from __future__ import annotations

from collections import Counter

from desks import Desk
from rollbacks import failed_analysis, rollback_action
from test_crash_safety import controller_once

from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog, verify_chain
from stratops.controller.faults import ROLLBACK_CRASH_POINTS
from stratops.controller.journal import IntentJournal
from stratops.gitops.forge.models import PullState
from stratops.model.base import Stage

LATER = ("after-act", "after-audit", "before-state")  # recovering the merged rollback, then


def test_a_rollback_survives_sigkill_at_every_step(desk: Desk) -> None:
    # The deployments are started by a controller process, not by this one: a process this
    # test started and a controller stops would stay a zombie of this test while it waits.
    assert controller_once(desk.root) == 0
    merge = desk.promote_and_merge(1, Stage.CANARY, 50_000)
    assert controller_once(desk.root) == 0
    desk.runtime().halt("btc-trend", Stage.CANARY, actor="stratops-controller", reason="failed")
    paths = ControllerPaths(desk.root)
    action = rollback_action(failed_analysis())
    head = desk.repo.remote_main()
    IntentJournal(paths.journal).begin(action.key(head), head, action)  # killed after-intent
    for crash_at in (*ROLLBACK_CRASH_POINTS, *LATER):
        assert controller_once(desk.root, crash_at) == -9, crash_at
    assert controller_once(desk.root) == 0
    assert controller_once(desk.root) == 0  # idle

    (pull,) = desk.forge.list_pull_requests(state=None, head_branch="rollback/btc-trend/v1-canary")
    assert pull.state is PullState.MERGED
    assert dict(desk.repo.commit(pull.head_sha).trailers)["Rollback-Of"] == merge
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}
    events = AuditLog(paths.audit).events()
    done = Counter(e.action for e in events)
    assert done["rollback_opened"] == done["rollback_merged"] == 1
    assert done["remove"] == done["clear_alias"] == 1
    assert verify_chain(paths.audit) is None
    assert not paths.journal.exists()
