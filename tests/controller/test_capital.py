"""The capital that runs in canary or live is at most what a merged, approved PR set.

Every path to a running canary is tried by direct push: raising the allocation after the merge
and before the controller saw it, and dropping the canary then re-adding it with more capital.
"""

from __future__ import annotations

from desks import Desk

from stratops.model.base import Stage

MANIFEST = "manifests/strategies/btc-trend.yaml"


def _push(desk: Desk, edit: tuple[str, str], message: str) -> None:
    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    path = desk.root / MANIFEST
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1]))
    desk.git("commit", "--quiet", "-am", message)
    desk.git("push", "--quiet", "origin", "main")


def _canary(desk: Desk) -> float | None:
    running = {s.spec.stage: s.spec for s in desk.runtime().list()}
    return running[Stage.CANARY].allocation if Stage.CANARY in running else None


def test_an_allocation_raised_after_the_merge_is_not_deployed(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    _push(desk, ("allocation: 10000", "allocation: 90000"), "more capital, unreviewed")
    result = desk.reconciler().tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 1, "capital_exceeds_review")
    assert "90,000" in verdict.reason and "10,000" in verdict.reason
    assert _canary(desk) is None  # the strategy keeps what was applied: no canary


def test_a_canary_dropped_and_re_added_with_more_capital_is_refused(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    desk.reconciler().tick()
    assert _canary(desk) == 10_000
    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    canary_line = next(
        line for line in (desk.root / MANIFEST).read_text().splitlines() if "canary:" in line
    )
    _push(desk, (canary_line + "\n", ""), "drop the canary (allowed: less capital)")
    desk.reconciler().tick()
    assert _canary(desk) is None
    raised = canary_line.replace("allocation: 10000", "allocation: 100000")
    paper = next(
        line for line in (desk.root / MANIFEST).read_text().splitlines() if "paper:" in line
    )
    _push(desk, (paper, raised + "\n" + paper), "re-add the canary with ten times the capital")
    result = desk.reconciler().tick()
    assert result.refused["btc-trend"][2].code == "capital_exceeds_review"
    assert _canary(desk) is None


def test_a_reviewed_canary_re_added_at_its_reviewed_capital_runs(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    result = desk.reconciler().tick()
    assert not result.refused and _canary(desk) == 10_000
