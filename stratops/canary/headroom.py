"""How far each metric of a running analysis is from the limits that would end it (pure).

For ``stratops canary status``: per metric, the counts the limit rules keep
(:mod:`stratops.canary.limits`) next to the limit each would have to exceed, and the time left
before the run can pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from stratops.canary.limits import count
from stratops.canary.run import AnalysisRun
from stratops.model.analysis import AnalysisTemplateSpec, CanaryMetric


@dataclass(frozen=True)
class Headroom:
    """One metric's counts and limits; a limit trips when its count exceeds it."""

    metric: CanaryMetric
    passed: int
    min_passed: int
    failed: int
    failure_limit: int
    consecutive_failed: int
    consecutive_failure_limit: int
    inconclusive: int
    inconclusive_limit: int
    consecutive_errors: int
    consecutive_error_limit: int

    @property
    def next_to_trip(self) -> str:
        """The limit with the fewest measurements left before it trips, for people."""
        left = {
            "failureLimit": self.failure_limit - self.failed,
            "consecutiveFailureLimit": self.consecutive_failure_limit - self.consecutive_failed,
            "inconclusiveLimit": self.inconclusive_limit - self.inconclusive,
            "consecutiveErrorLimit": self.consecutive_error_limit - self.consecutive_errors,
        }
        name = min(left, key=lambda limit: left[limit])
        return f"{name} after {left[name] + 1} more"


def headroom(run: AnalysisRun, spec: AnalysisTemplateSpec) -> list[Headroom]:
    """Per metric of ``run``, in the template's order, its counts against ``spec``'s limits."""
    return [
        Headroom(
            metric=metric,
            passed=found.passed,
            min_passed=spec.min_passed,
            failed=found.failed,
            failure_limit=spec.failure_limit,
            consecutive_failed=found.consecutive_failed,
            consecutive_failure_limit=spec.consecutive_failure_limit,
            inconclusive=found.inconclusive,
            inconclusive_limit=spec.inconclusive_limit,
            consecutive_errors=found.consecutive_errors,
            consecutive_error_limit=spec.consecutive_error_limit,
        )
        for metric, found in count(run.measurements).items()
    ]


def time_left(run: AnalysisRun) -> timedelta:
    """Canary time still to run before the analysis may pass (0 once ``minDuration`` is met)."""
    elapsed = run.as_of - run.started
    return max(timedelta(seconds=run.min_duration_seconds) - elapsed, timedelta(0))
