"""Helpers of the rollback tests: a failed analysis as the canary judge would hand it over."""

from __future__ import annotations

import hashlib

from desks import Desk

from stratops.controller.plan import Action, rollback_actions
from stratops.model.base import Stage
from stratops.model.rollback import RollbackRequest

TRIPPED = "failed: 4 failed measurements > failureLimit 3"
REPORT = (
    "### Canary analysis: failed\n\n"
    "| metric | regime | value | threshold | phase |\n|---|---|---|---|---|\n"
    "| slippage_bps | thin | 14.2 | 12 | failed |\n"
)


def failed_analysis(version: int = 1, run: str = "run-1") -> RollbackRequest:
    """The request the judge makes of a failed AnalysisRun (its digest: any sha256)."""
    return RollbackRequest(
        strategy="btc-trend",
        stage=Stage.CANARY,
        version=version,
        analysis_digest=hashlib.sha256(run.encode()).hexdigest(),
        report=REPORT,
        tripped=TRIPPED,
        halt="flatten: position 0.0 BTC/USDT after the halt, cost 3.1 bps",
    )


def rollback_action(request: RollbackRequest) -> Action:
    (action,) = rollback_actions([request])
    return action


def canary_halted(desk: Desk, version: int = 1) -> str:
    """Paper v1 deployed, ``version`` promoted to canary through a PR, deployed, then halted
    (as the judge's HALT does): the merge commit of the promotion."""
    desk.reconciler().tick()
    merge = desk.promote_and_merge(version, Stage.CANARY, 50_000)
    # a minute of market a second: no full analysis window while the test runs, so the only
    # failed analysis is the one the test hands over (the judge has tests of its own)
    desk.reconciler(speed=60).tick()
    desk.runtime().halt("btc-trend", Stage.CANARY, actor="stratops-controller", reason="failed")
    return merge
