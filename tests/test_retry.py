"""The one retry loop: its schedule (properties) and the loop with an injected sleep and clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from stratops.retry import (
    RetriesExhausted,
    Retry,
    RetryPolicy,
    call_with_retries,
    retry_after_seconds,
    schedule,
)
from stratops.unavailable import Unavailable

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
policies = st.builds(
    RetryPolicy,
    attempts=st.integers(min_value=1, max_value=100),
    backoff_seconds=seconds,
    max_backoff_seconds=seconds,
)


class Flaky(Exception):
    """A failure worth retrying."""


class Broken(Exception):
    """A failure retrying will not mend."""


def retry_flaky(outcome: object) -> Retry | None:
    return Retry() if isinstance(outcome, Flaky) else None


def calls(*outcomes: object) -> Callable[[], object]:
    """A call answering ``outcomes`` in turn: exceptions are raised, anything else returned."""
    answers: Iterator[object] = iter(outcomes)

    def call() -> object:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return call


# ---------------------------------------------------------------- the schedule


def test_waits_double_from_the_first_delay_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, backoff_seconds=0.5, max_backoff_seconds=2)
    assert schedule(policy) == (0.5, 1.0, 2.0, 2.0, 2.0)
    assert schedule(RetryPolicy(attempts=1)) == ()
    assert schedule(RetryPolicy(attempts=3, backoff_seconds=5, max_backoff_seconds=1)) == (1, 1)


@given(policies)
def test_one_wait_between_each_two_calls(policy: RetryPolicy) -> None:
    assert len(schedule(policy)) == policy.attempts - 1


@given(policies)
def test_waits_never_shrink_and_never_pass_the_cap(policy: RetryPolicy) -> None:
    waits = schedule(policy)
    assert all(0 <= wait <= policy.max_backoff_seconds for wait in waits)
    assert all(earlier <= later for earlier, later in pairwise(waits))


@given(policies)
def test_waits_double_until_they_reach_the_cap(policy: RetryPolicy) -> None:
    waits = schedule(policy)
    for earlier, later in pairwise(waits):
        assert later == min(earlier * 2, policy.max_backoff_seconds)


def test_attempts_are_bounded() -> None:
    for attempts in (0, 101):
        with pytest.raises(ValidationError, match="attempts"):
            RetryPolicy(attempts=attempts)


def test_the_policy_reads_camel_case_documents() -> None:
    document = {"attempts": 2, "backoffSeconds": 1, "maxBackoffSeconds": 4, "maxWaitSeconds": 9}
    assert RetryPolicy.model_validate(document) == RetryPolicy(
        attempts=2, backoff_seconds=1, max_backoff_seconds=4, max_wait_seconds=9
    )
    with pytest.raises(ValidationError, match="backoff"):
        RetryPolicy.model_validate({"backoff": 1})


# ---------------------------------------------------------------- the loop


def test_retries_until_the_outcome_is_final() -> None:
    sleeps: list[float] = []
    call = calls(Flaky("one"), Flaky("two"), "done")
    assert call_with_retries(call, RetryPolicy(), classify=retry_flaky, sleep=sleeps.append) == (
        "done"
    )
    assert sleeps == [0.5, 1.0]


def test_a_final_exception_is_raised_at_once() -> None:
    sleeps: list[float] = []
    with pytest.raises(Broken, match="no"):
        call_with_retries(
            calls(Flaky("one"), Broken("no")),
            RetryPolicy(),
            classify=retry_flaky,
            sleep=sleeps.append,
        )
    assert sleeps == [0.5]


def test_spent_attempts_raise_unavailable_with_the_last_outcome() -> None:
    sleeps: list[float] = []
    last = Flaky("three")
    with pytest.raises(RetriesExhausted, match="after 3 attempt") as caught:
        call_with_retries(
            calls(Flaky("one"), Flaky("two"), last, "never called"),
            RetryPolicy(attempts=3),
            classify=retry_flaky,
            sleep=sleeps.append,
        )
    assert isinstance(caught.value, Unavailable)
    assert caught.value.last is last and caught.value.__cause__ is last
    assert caught.value.attempts == 3 and caught.value.retry_after is None
    assert sleeps == [0.5, 1.0]


def test_returned_values_can_be_retried_too() -> None:
    def retry_busy(outcome: object) -> Retry | None:
        return Retry() if outcome == "busy" else None

    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(
            calls("busy", "busy"),
            RetryPolicy(attempts=2),
            classify=retry_busy,
            sleep=lambda s: None,
        )
    assert caught.value.last == "busy" and caught.value.__cause__ is None


def test_the_server_can_name_the_wait_in_seconds_or_as_a_clock_time() -> None:
    decisions = iter([Retry(after=3), Retry(until=1_007), Retry(until=900), None])
    sleeps: list[float] = []
    result = call_with_retries(
        calls("limited", "limited", "limited", "ok"),
        RetryPolicy(attempts=5),
        classify=lambda outcome: next(decisions),
        sleep=sleeps.append,
        clock=lambda: 1_000.0,
    )
    assert result == "ok"
    assert sleeps == [3.0, 7.0, 0.0]  # a reset already past: no wait


def test_a_server_wait_over_max_wait_is_not_slept() -> None:
    sleeps: list[float] = []
    with pytest.raises(RetriesExhausted, match=r"after 1 attempt.*wait 120s") as caught:
        call_with_retries(
            calls(Flaky("throttled")),
            RetryPolicy(max_wait_seconds=60),
            classify=lambda outcome: Retry(after=120),
            sleep=sleeps.append,
        )
    assert caught.value.retry_after == 120.0
    assert sleeps == []


def test_the_last_attempt_carries_the_wait_the_server_asked_for() -> None:
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(
            calls(Flaky("a"), Flaky("b")),
            RetryPolicy(attempts=2),
            classify=lambda outcome: Retry(after=5),
            sleep=lambda seconds: None,
        )
    assert caught.value.attempts == 2 and caught.value.retry_after == 5.0


def test_a_retry_names_one_wait_at_most() -> None:
    with pytest.raises(ValueError, match="not both"):
        Retry(after=1, until=2)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 120 ", 120.0), (None, None), ("Wed, 21 Oct 2026 07:28:00 GMT", None)],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds
