"""``stratops promote S V --allocation N`` (no ``--to``): an allocation raised or cut through a
pull request, against a real desk repository, bare remote and local forge.

The example desk runs btc-trend v3 live (1,000,000), v4 in canary (50,000), v5 in paper (the
default 100,000); its policy wants 1 approval for canary, 2 for live, and caps trend canaries
at 100,000.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratops.gitops.changes import ChangeKind, DesiredChange
from stratops.gitops.desk import load_desk
from stratops.gitops.errors import IllegalReallocation
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.plan import ReallocationRequest, plan_reallocation
from stratops.gitops.review import Requirements
from stratops.gitops.scaffold import Scaffold
from stratops.model.base import Stage, StrategyType
from stratops.model.strategy import StrategyDeployment

from .conftest import Invoke
from .helpers import EXAMPLE_MANIFESTS, git
from .test_promote import remote_branches, trailers

BRANCH = "promote/btc-trend/v4-canary-allocation"
POLICY = load_desk([EXAMPLE_MANIFESTS]).policy
assert POLICY is not None


def changed_lines(desk: Scaffold, branch: str) -> list[str]:
    diff = git(desk.remote, "diff", "main", branch)
    return [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


def test_a_raise_opens_a_pull_request_that_sets_one_allocation(
    invoke: Invoke, desk: Scaffold, forge: LocalForge
) -> None:
    result = invoke(
        "promote", "btc-trend", "4", "--allocation", "80000", "--reason", "healthy for a week"
    )
    assert result.exit_code == 0, result.output
    assert "opened pull request #1" in result.stderr
    assert remote_branches(desk) == ["main", BRANCH]
    assert changed_lines(desk, BRANCH) == [
        "-    canary: {version: 4, allocation: 50000, analysis: trend-canary, minDuration: 24h}",
        "+    canary: {version: 4, allocation: 80000, analysis: trend-canary, minDuration: 24h}",
    ]
    # no Gate-Report-Digest: the controller never takes it for a promotion commit
    assert trailers(desk, BRANCH) == {
        "Strategy": "btc-trend",
        "Version": "4",
        "Stage": "canary",
        "Allocation": "80000",
    }
    [pull] = forge.list_pull_requests()
    assert pull.title == "Raise the canary allocation of btc-trend v4 to 80,000"
    assert "canary v4: allocation 50,000 → 80,000" in pull.body
    assert "Reason: healthy for a week" in pull.body
    assert "approvals needed (policy `desk-policy`): 1, as for a promotion to canary" in pull.body
    assert "policy limit for trend in canary: 100,000" in pull.body
    assert forge.commit_statuses(pull.head_sha) == []  # not gated: no pending gate status


def test_a_raise_merges_only_with_the_approvals_of_its_stage(
    invoke: Invoke, forge: LocalForge
) -> None:
    assert invoke("promote", "btc-trend", "3", "--allocation", "2000000").exit_code == 0
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1, blocked.output
    assert "(0) < required (2)" in blocked.stderr
    assert "CI" not in blocked.stderr  # not gated: no CI verdict to wait for
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0
    assert invoke("pr", "merge", "1").exit_code == 1
    assert invoke("pr", "approve", "1", "--as", "bob").exit_code == 0
    merged = invoke("pr", "merge", "1")
    assert merged.exit_code == 0, merged.output
    assert forge.get_pull_request(1).merge_sha is not None


def test_a_cut_merges_without_approvals(invoke: Invoke, forge: LocalForge) -> None:
    result = invoke("promote", "btc-trend", "3", "--allocation", "250000", "--output", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["branch"] == "promote/btc-trend/v3-live-allocation"
    assert payload["gateReport"] is None
    assert payload["change"] == {
        "kind": "reallocation",
        "stage": "live",
        "fromAllocation": 1_000_000,
        "allocation": 250_000,
    }
    assert (
        "approvals needed (policy `desk-policy`): 0, a cut reduces risk"
        in forge.get_pull_request(1).body
    )
    merged = invoke("pr", "merge", "1")
    assert merged.exit_code == 0, merged.output


def test_a_paper_allocation_taken_from_the_default_is_written(
    invoke: Invoke, desk: Scaffold
) -> None:
    assert invoke("promote", "btc-trend", "5", "--allocation", "250000").exit_code == 0
    assert changed_lines(desk, "promote/btc-trend/v5-paper-allocation") == [
        "-    paper: {version: 5}",
        "+    paper: {version: 5, allocation: 250000}",
    ]


def test_running_it_again_updates_the_same_pull_request(
    invoke: Invoke, desk: Scaffold, forge: LocalForge
) -> None:
    assert invoke("promote", "btc-trend", "4", "--allocation", "80000").exit_code == 0
    again = invoke("promote", "btc-trend", "4", "--allocation", "60000")
    assert again.exit_code == 0, again.output
    assert "updated pull request #1" in again.stderr
    [pull] = forge.list_pull_requests(state=None)
    assert pull.title == "Raise the canary allocation of btc-trend v4 to 60,000"
    assert changed_lines(desk, BRANCH)[-1].endswith(
        "allocation: 60000, analysis: trend-canary, minDuration: 24h}"
    )


def test_an_open_promotion_of_the_strategy_blocks_a_reallocation(invoke: Invoke) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    result = invoke("promote", "btc-trend", "3", "--allocation", "2000000")
    assert result.exit_code == 2
    assert "pull request #1 (promote/btc-trend/v5-canary) already promotes" in result.stderr


def test_an_open_reallocation_blocks_a_promotion(invoke: Invoke) -> None:
    assert invoke("promote", "btc-trend", "4", "--allocation", "80000").exit_code == 0
    result = invoke("promote", "btc-trend", "5", "--to", "canary")
    assert result.exit_code == 2
    assert f"pull request #1 ({BRANCH}) already reallocates 'btc-trend'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("4", "--allocation", "0"), "expected a finite amount above 0, got 0"),
        (("4", "--allocation", "-5000"), "expected a finite amount above 0, got"),
        (("4", "--allocation", "50000"), "btc-trend v4 already has allocation 50,000 in canary"),
        (
            ("9", "--allocation", "50000"),
            "btc-trend runs no v9 (it runs paper v5, canary v4, live v3)",
        ),
        (("4", "--allocation", "60000", "--stage", "live"), "btc-trend runs no v4 in live"),
        (
            ("4", "--allocation", "200000"),
            "spec.stages.canary.allocation: allocation 200,000 exceeds the policy limit of "
            "100,000 for trend in canary",
        ),
        (("4",), "pass --to STAGE to promote, or --allocation N"),
        (("4", "--to", "live", "--stage", "canary"), "--stage names the stage of a reallocation"),
        (("4", "--allocation", "60000", "--analysis", "trend-canary"), "--analysis and"),
        # --to live needs the version in canary
        (("5", "--to", "live"), "(the canary runs v4: only that version can go live)"),
    ],
)
def test_bad_reallocations_are_refused_and_open_nothing(
    invoke: Invoke, desk: Scaffold, forge: LocalForge, args: tuple[str, ...], message: str
) -> None:
    result = invoke("promote", "btc-trend", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()), result.stderr
    assert remote_branches(desk) == ["main"]
    assert forge.list_pull_requests(state=None) == []


def test_live_without_a_canary_says_what_is_missing(invoke: Invoke, desk: Scaffold) -> None:
    result = invoke("promote", "btc-mm", "1", "--to", "live", "--allocation", "100000")
    assert result.exit_code == 2
    assert "btc-mm has nothing in canary" in result.stderr
    assert "promote v1 --to canary first" in " ".join(result.stderr.split())
    assert remote_branches(desk) == ["main"]


def _strategy(**stages: dict[str, object]) -> StrategyDeployment:
    return StrategyDeployment.model_validate(
        {
            "apiVersion": "stratops.io/v1alpha1",
            "kind": "StrategyDeployment",
            "metadata": {"name": "btc-trend"},
            "spec": {
                "strategyType": "trend",
                "venue": "binance",
                "symbols": ["BTC/USDT"],
                "owners": ["research-trend"],
                "stages": stages,
            },
        }
    )


def test_a_version_in_two_stages_changes_the_highest_unless_named() -> None:
    strategy = _strategy(
        canary={"version": 4, "allocation": 50_000, "analysis": "trend-canary"},
        paper={"version": 4},
    )
    request = ReallocationRequest(strategy="btc-trend", version=4, allocation=60_000)
    canary = plan_reallocation(strategy, request)
    assert (canary.target_stage, canary.change.from_allocation) == (Stage.CANARY, 50_000)
    assert canary.change.raises_capital and not canary.gated
    paper = plan_reallocation(strategy, request.model_copy(update={"stage": Stage.PAPER}))
    assert (paper.target_stage, paper.change.from_allocation) == (Stage.PAPER, 100_000)
    assert not paper.change.raises_capital
    with pytest.raises(IllegalReallocation, match="runs no v4 in live"):
        plan_reallocation(strategy, request.model_copy(update={"stage": Stage.LIVE}))


AMOUNTS = st.floats(min_value=1, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(stage=st.sampled_from(list(Stage)), before=AMOUNTS, after=AMOUNTS)
def test_a_raise_needs_the_approvals_of_its_stage_a_cut_none(
    stage: Stage, before: float, after: float
) -> None:
    assert POLICY is not None
    change = DesiredChange(
        ChangeKind.REALLOCATION,
        "btc-trend",
        StrategyType.TREND,
        stage,
        4,
        4,
        after,
        stage,
        False,
        from_allocation=before,
    )
    needed = Requirements.of([change], POLICY)
    expected = POLICY.spec.approvals.for_stage(stage) if after > before else 0
    assert (needed.approvals, needed.gates) == (expected, False)
