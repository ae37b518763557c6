"""Canary steps: the next step of a ramp, and its pull request opened as the controller.

The example desk runs eth-btc-meanrev v1 in canary at 25,000 (stat_arb canaries are capped at
100,000; a canary raise needs one approval).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratops.gitops.errors import IllegalReallocation, MergeBlocked
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import NewReview, ReviewState
from stratops.gitops.git import GitRepo
from stratops.gitops.pulls import merge_pull_request, review_pull_request
from stratops.gitops.ramp import CONTROLLER, RampStep, next_step, open_ramp, ramp_branch, step_index
from stratops.gitops.scaffold import Scaffold
from stratops.model.strategy import CanaryStage

from .helpers import git, registry_evaluator
from .test_promote import remote_branches

STEPS = (10_000.0, 50_000.0, 200_000.0)
DIGEST = "a" * 64


def canary(allocation: float, version: int = 1) -> CanaryStage:
    return CanaryStage(version=version, allocation=allocation, analysis="statarb-canary")


@pytest.mark.parametrize(
    ("allocation", "expected"),
    [
        (5_000, RampStep(1, 3, 5_000, 10_000)),
        (10_000, RampStep(2, 3, 10_000, 50_000)),
        (30_000, RampStep(2, 3, 30_000, 50_000)),  # cut by hand between two steps
        (50_000, RampStep(3, 3, 50_000, 200_000)),
        (200_000, None),
        (300_000, None),
    ],
)
def test_the_next_step_is_the_first_above_the_canary(
    allocation: float, expected: RampStep | None
) -> None:
    assert next_step(canary(allocation), STEPS) == expected


@given(
    steps=st.lists(st.integers(1, 10**7), min_size=1, max_size=8, unique=True).map(sorted),
    allocation=st.integers(1, 2 * 10**7),
)
def test_a_step_raises_and_skips_no_step(steps: list[int], allocation: int) -> None:
    step = next_step(canary(allocation), [float(s) for s in steps])
    if step is None:
        assert allocation >= steps[-1]
        return
    assert step.allocation == steps[step.number - 1] > allocation
    assert all(s <= allocation for s in steps[: step.number - 1])
    assert step.of == len(steps)


@given(
    steps=st.lists(st.integers(1, 10**7), min_size=1, max_size=8, unique=True).map(sorted),
    allocation=st.integers(1, 2 * 10**7),
)
def test_the_step_analysed_and_the_next_make_the_whole_ramp(
    steps: list[int], allocation: int
) -> None:
    """The step a canary is analysed as is at or below it (step 0 below the first), and the
    next step is the one after it, or the analysed one itself when the canary is below it."""
    index = step_index([float(s) for s in steps], allocation)
    assert 0 <= index < len(steps)
    assert steps[index] <= allocation or index == 0
    assert index + 1 == len(steps) or steps[index + 1] > allocation
    after = next_step(canary(allocation), [float(s) for s in steps])
    if after is None:
        assert index == len(steps) - 1 and allocation >= steps[-1]
    else:
        assert after.number - 1 == (index + 1 if allocation >= steps[index] else index)


def test_the_ramp_pull_request_is_the_controllers_and_needs_an_approval(
    desk: Scaffold, repo: GitRepo, forge: LocalForge
) -> None:
    running = canary(25_000)
    step = next_step(running, (10_000, 25_000, 100_000))
    assert step == RampStep(3, 3, 25_000, 100_000)
    now = datetime.now(UTC).replace(microsecond=0)
    done = open_ramp(
        repo,
        forge,
        registry_evaluator,
        "eth-btc-meanrev",
        running.version,
        step,
        analysis=DIGEST,
        as_of=now,
    )
    pull = done.pull_request
    assert pull is not None and done.report is None
    assert (pull.author, pull.head_branch) == (
        CONTROLLER,
        "promote/eth-btc-meanrev/v1-canary-allocation",
    )
    assert pull.head_branch == ramp_branch("eth-btc-meanrev", 1)
    assert pull.title == "Raise the canary allocation of eth-btc-meanrev v1 to 100,000"
    assert f"canary ramp step 3 of 3: 25,000 → 100,000, after the passed analysis {DIGEST}" in (
        pull.body
    )
    with pytest.raises(MergeBlocked, match=r"\(0\) < required \(1\)"):
        merge_pull_request(repo, forge, pull.number)
    review_pull_request(forge, pull.number, NewReview(reviewer="bob", state=ReviewState.APPROVED))
    merged = merge_pull_request(repo, forge, pull.number)
    manifest = git(
        desk.remote, "show", f"{merged.merge_sha}:manifests/strategies/eth-btc-meanrev.yaml"
    )
    assert "canary: {version: 1, allocation: 100000, analysis: statarb-canary" in manifest


def test_a_ramp_planned_on_a_stale_canary_opens_nothing(
    desk: Scaffold, repo: GitRepo, forge: LocalForge
) -> None:
    stale = canary(10_000)  # main runs it at 25,000
    step = next_step(stale, STEPS)
    assert step is not None
    with pytest.raises(IllegalReallocation, match="not the 10,000 this change was planned from"):
        open_ramp(
            repo,
            forge,
            registry_evaluator,
            "eth-btc-meanrev",
            stale.version,
            step,
            analysis=DIGEST,
            as_of=datetime.now(UTC).replace(microsecond=0),
        )
    assert remote_branches(desk) == ["main"]
    assert forge.list_pull_requests(state=None) == []
