"""Crash points for the crash-safety tests: ``STRATOPS_CRASH_AT=<name>`` kills the controller.

The process sends itself SIGKILL at the named point (no cleanup, no flush: as hard as a power
cut), so a test can stop the controller between any two steps of the promotion flow and
check that a restart converges. Unset in production, where every point is a no-op.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "STRATOPS_CRASH_AT"

CRASH_POINTS = (
    "after-intent",  # the intent is journalled, the action has not run
    "after-act",  # the runtime or registry changed, no audit event yet
    "after-audit",  # the audit event is written, the intent is still pending
    "before-state",  # every action done, the controller state not yet saved
)

ROLLBACK_CRASH_POINTS = (  # the steps of an OPEN_ROLLBACK (stratops.gitops.rollback)
    "rollback-pushed",  # the rollback branch is pushed, no pull request yet
    "rollback-opened",  # the pull request is open, not merged, nothing recorded
    "rollback-merged",  # the pull request is merged, nothing recorded
)

RAMP_CRASH_POINTS = ("ramp-opened",)  # an OPEN_RAMP's pull request is open, nothing recorded


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
