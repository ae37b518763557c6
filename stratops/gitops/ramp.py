"""Canary steps: the ramp of a canary's allocation (e.g. 10,000 → 50,000 → 200,000), one pull
request per step, opened by the controller through the same rules as any reallocation.

:func:`step_index` and :func:`next_step` are pure: the step a canary runs at, and the one after
it. :func:`open_ramp` opens (or updates) the pull request of that step as a reallocation of the
canary (see :mod:`stratops.gitops.promote`): not gated, a raise, so it merges only with the
approvals a canary promotion needs, none of them the controller's own (it is the author).
Whoever calls it has judged the current step: the analysis that passed is named in the pull
request.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stratops.gitops.evaluation import GateEvaluator
from stratops.gitops.forge.base import Forge
from stratops.gitops.git import GitRepo
from stratops.gitops.plan import ReallocationRequest, promotion_branch
from stratops.gitops.promote import Promotion, promote
from stratops.model.base import Stage
from stratops.model.strategy import CanaryStage

CONTROLLER = "stratops-controller"


@dataclass(frozen=True)
class RampStep:
    """Step ``number`` (1-based) of ``of``: the canary goes from ``current`` to ``allocation``."""

    number: int
    of: int
    current: float
    allocation: float

    def describe(self) -> str:
        return (
            f"canary ramp step {self.number} of {self.of}: {self.current:,.0f} → "
            f"{self.allocation:,.0f}"
        )


def step_index(steps: Sequence[float], allocation: float) -> int:
    """The step (0-based) a canary at ``allocation`` is analysed as: the highest step at or
    below it; step 0 below the first (less capital than the step, so no more risk).

    ``steps`` ascend (the template's validation). With :func:`next_step` it keeps the ramp
    whole: a canary below the first step or cut by hand between two steps ramps to the next
    step up, and at that step it is analysed again from a new run.
    """
    return max(bisect_right(list(steps), allocation) - 1, 0)


def next_step(canary: CanaryStage, steps: Sequence[float]) -> RampStep | None:
    """The first step above the canary's allocation; None when it runs at the last or above.

    ``steps`` ascend (the template's validation); a canary between two steps (cut by hand)
    goes to the next one up.
    """
    for index, allocation in enumerate(steps):
        if allocation > canary.allocation:
            return RampStep(index + 1, len(steps), canary.allocation, allocation)
    return None


def ramp_branch(strategy: str, version: int) -> str:
    """The branch of a canary's ramp pull requests (that of any canary reallocation)."""
    return f"{promotion_branch(strategy, version, Stage.CANARY)}-allocation"


def open_ramp(
    repo: GitRepo,
    forge: Forge,
    evaluator: GateEvaluator,
    strategy: str,
    version: int,
    step: RampStep,
    *,
    analysis: str,
    as_of: datetime,
) -> Promotion:
    """Open the pull request of ``step`` for the canary ``version`` of ``strategy``, as the
    controller.

    ``analysis`` names the passed analysis of the current step (its digest, say), for the
    reviewers. A stale step (main runs another version, or another allocation than
    ``step.current``) is refused (:class:`~stratops.gitops.errors.IllegalReallocation`),
    nothing pushed.
    """
    request = ReallocationRequest(
        strategy=strategy,
        version=version,
        allocation=step.allocation,
        stage=Stage.CANARY,
        expected=step.current,
        reason=f"{step.describe()}, after the passed analysis {analysis}",
    )
    return promote(repo, forge, evaluator, request, author=CONTROLLER, as_of=as_of)
