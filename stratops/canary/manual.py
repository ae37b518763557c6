"""What a person decides about a canary, as a change of its run (pure).

``stratops canary abort`` fails the analysis at once, whatever its measurements say: the run
becomes ``failed`` with the person and their reason as the limit that tripped, and asks for a
rollback (the controller halts the canary and opens the rollback pull request).
"""

from __future__ import annotations

from datetime import datetime

from stratops.canary.run import AnalysisRun, RunAction, RunPhase


def aborted(run: AnalysisRun, by: str, reason: str, at: datetime) -> AnalysisRun:
    """``run`` failed by ``by``'s abort; a run already final stays as it is."""
    if run.phase.final:
        return run
    changed = {
        "phase": RunPhase.FAILED,
        "action": RunAction.ROLLBACK,
        "reason": f"failed: aborted by {by} at {at.isoformat()}: {reason}",
        "decided_at": run.as_of,
    }
    # a new value, not model_copy: the digest is cached on the instance
    return AnalysisRun.model_validate({**dict(run), **changed})
