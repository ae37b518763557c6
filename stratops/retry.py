"""Bounded retries with exponential backoff: the one retry loop of every adapter.

A :class:`RetryPolicy` says how often and how patiently; :func:`schedule` turns it into the
waits between the calls (a pure function); :func:`call_with_retries` runs a call under it. What
is worth retrying is the adapter's business: its ``classify`` looks at each outcome (the value
returned or the exception raised) and answers :class:`Retry` (try again, optionally when the
server said) or ``None`` (final: the value is returned, the exception raised).

Waits, by who decides them::

    the policy    backoff_seconds before the second call, doubling, capped at max_backoff_seconds
    the server    a Retry-After or a rate-limit reset (:class:`Retry`); a wait longer than
                  max_wait_seconds is not slept: the call gives up at once, retry_after set

Giving up (attempts spent, or a server wait too long) raises :class:`RetriesExhausted`, an
:class:`~stratops.unavailable.Unavailable` carrying the last outcome for the adapter to
translate into its own error family.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from stratops.unavailable import Unavailable

T = TypeVar("T")


class RetryPolicy(BaseModel):
    """``attempts`` calls in all, waits doubling from ``backoff_seconds`` to a cap.

    Also a configuration document part (camelCase keys), e.g. ``retry:`` of the Kubernetes
    runtime configuration.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    attempts: int = Field(4, ge=1, le=100, description="Calls in all, the first included.")
    backoff_seconds: float = Field(0.5, ge=0, description="Delay before the second call.")
    max_backoff_seconds: float = Field(8.0, ge=0, description="Cap of the doubling delay.")
    max_wait_seconds: float = Field(
        60.0,
        ge=0,
        description="Longest wait a server may ask for (Retry-After); a longer one is not "
        "slept: the call fails at once as unavailable, with the wait it asked for.",
    )


def schedule(policy: RetryPolicy) -> tuple[float, ...]:
    """The policy's waits between the calls: ``attempts - 1`` of them.

    ``backoff_seconds * 2**n`` before retry ``n`` (0 for the first), never above
    ``max_backoff_seconds``: non-decreasing until the cap, then the cap.
    """
    waits: list[float] = []
    wait = min(policy.backoff_seconds, policy.max_backoff_seconds)
    for _ in range(policy.attempts - 1):
        waits.append(wait)
        wait = min(wait * 2, policy.max_backoff_seconds)
    return tuple(waits)


@dataclass(frozen=True)
class Retry:
    """Try the call again: after the policy's backoff, unless the server named a wait.

    ``after``: seconds the server asked for (``Retry-After: 3``); ``until``: the clock time it
    named (a rate limit's reset, in the seconds of the loop's ``clock``). At most one is set.
    """

    after: float | None = None
    until: float | None = None

    def __post_init__(self) -> None:
        if self.after is not None and self.until is not None:
            raise ValueError("Retry takes `after` or `until`, not both")

    def requested(self, now: float) -> float | None:
        """Seconds the server asked to wait, from ``now``; None when it did not say."""
        if self.after is not None:
            return max(0.0, self.after)
        if self.until is not None:
            return max(0.0, self.until - now)
        return None


def retry_after_seconds(header: str | None) -> float | None:
    """An HTTP ``Retry-After`` in seconds; None when absent or not seconds (the date form)."""
    return float(header) if header is not None and header.strip().isdigit() else None


class RetriesExhausted(Unavailable):
    """The call still failed when retrying stopped; ``last`` is its last outcome.

    ``last`` is what the last call returned or raised (chained as ``__cause__`` when raised);
    ``attempts`` the calls made; ``retry_after`` the wait the server asked for, if it did.
    """

    def __init__(self, last: object, attempts: int, retry_after: float | None) -> None:
        self.last = last
        self.attempts = attempts
        asked = "" if retry_after is None else f", the server asking to wait {retry_after:g}s"
        super().__init__(f"gave up after {attempts} attempt(s){asked}: {last}", retry_after)


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    classify: Callable[[T | Exception], Retry | None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> T:
    """``call()`` until ``classify`` calls its outcome final, at most ``policy.attempts`` times.

    Returns the final value or raises the final exception; raises :class:`RetriesExhausted`
    when the attempts are spent or the server asks for a wait over ``max_wait_seconds``.
    """
    waits = schedule(policy)
    for attempt in range(1, policy.attempts + 1):
        try:
            outcome: T | Exception = call()
        except Exception as exc:  # classify decides; a final exception is raised again
            outcome = exc
        decision = classify(outcome)
        if decision is None:
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        requested = decision.requested(clock())
        if attempt == policy.attempts or (
            requested is not None and requested > policy.max_wait_seconds
        ):
            cause = outcome if isinstance(outcome, Exception) else None
            raise RetriesExhausted(outcome, attempt, requested) from cause
        sleep(waits[attempt - 1] if requested is None else requested)
    raise AssertionError("unreachable: the last attempt returns or raises")
