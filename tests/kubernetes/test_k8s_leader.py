"""Leader election: two controller replicas and one Lease on the fake API server.

Time is a shared injected clock: nothing waits for real, expiry is a clock step.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fake_apiserver import FakeApiServer
from k8s_helpers import LEASE, NAMESPACE, T0, FakeClock, configuration
from kubernetes import client

from stratops.controller.leader import (
    LeaderElectionError,
    LeaseAction,
    LeaseElector,
    decide,
    format_micro_time,
    lease_expiry,
    new_lease,
    released,
    renewed,
    taken_over,
)


def elector(server: FakeApiServer, identity: str, clock: FakeClock) -> LeaseElector:
    api = client.ApiClient(configuration(server.url))
    return LeaseElector(
        api, NAMESPACE, LEASE, identity, lease_seconds=15, renew_seconds=5, clock=clock
    )


def lease(server: FakeApiServer) -> dict[str, Any]:
    found = server.get("leases", NAMESPACE, LEASE)
    assert found is not None
    return found


def lease_writes(server: FakeApiServer) -> int:
    return sum(1 for c in server.calls if c.resource == "leases" and c.verb in ("create", "update"))


# -- the pure part -------------------------------------------------------------------------


def held_by(
    holder: str | None, renewed_at: str | None = "2025-03-01T12:00:00.000000Z"
) -> dict[str, Any]:
    spec: dict[str, Any] = {"leaseDurationSeconds": 15}
    if holder is not None:
        spec["holderIdentity"] = holder
    if renewed_at is not None:
        spec["renewTime"] = renewed_at
    return {"metadata": {"name": LEASE, "resourceVersion": "4"}, "spec": spec}


@pytest.mark.parametrize(
    ("lease_object", "seconds_later", "action"),
    [
        (None, 0, LeaseAction.CREATE),
        (held_by("a"), 60, LeaseAction.RENEW),  # ours, even when expired
        (held_by("b"), 14, LeaseAction.FOLLOW),
        (held_by("b"), 15, LeaseAction.FOLLOW),  # expired only once strictly past
        (held_by("b"), 15.001, LeaseAction.TAKE_OVER),
        (held_by(None), 0, LeaseAction.TAKE_OVER),  # released
        (held_by("b", renewed_at=None), 0, LeaseAction.TAKE_OVER),  # no proof of life
        (held_by("b", renewed_at="yesterday"), 0, LeaseAction.TAKE_OVER),
    ],
)
def test_decide(
    lease_object: dict[str, Any] | None, seconds_later: float, action: LeaseAction
) -> None:
    assert decide(lease_object, "a", T0 + timedelta(seconds=seconds_later)).action is action


def test_lease_bodies() -> None:
    assert format_micro_time(T0) == "2025-03-01T12:00:00.000000Z"  # six digits, even for zero
    created = new_lease(LEASE, NAMESPACE, "a", T0, 15)
    assert lease_expiry(created) == T0 + timedelta(seconds=15)
    later = T0 + timedelta(seconds=5)
    assert renewed(created, later, 15)["spec"]["renewTime"] == format_micro_time(later)
    taken = taken_over(held_by("b"), "a", later, 15)
    assert (taken["spec"]["holderIdentity"], taken["spec"]["leaseTransitions"]) == ("a", 1)
    assert taken["metadata"]["resourceVersion"] == "4"  # the write is conditional
    assert "holderIdentity" not in released(held_by("a"), later)["spec"]


def test_settings_that_cannot_keep_a_lease_are_refused() -> None:
    with pytest.raises(ValueError, match="must be less than lease_seconds"):
        LeaseElector(None, NAMESPACE, LEASE, "a", lease_seconds=10, renew_seconds=5)
    with pytest.raises(ValueError, match="non-empty identity"):
        LeaseElector(None, NAMESPACE, LEASE, "", lease_seconds=15, renew_seconds=5)


# -- two replicas against one API server ----------------------------------------------------


def test_exactly_one_replica_leads(apiserver: FakeApiServer, clock: FakeClock) -> None:
    a, b = elector(apiserver, "a", clock), elector(apiserver, "b", clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert (a.is_leader(), b.is_leader()) == (True, False)
    assert b.holder == "a"
    for _ in range(6):  # a minute of ticks
        clock.advance(10 / 3)
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert lease(apiserver)["spec"]["holderIdentity"] == "a"


def test_renewal_writes_only_when_due(apiserver: FakeApiServer, clock: FakeClock) -> None:
    a = elector(apiserver, "a", clock)
    a.try_acquire_or_renew()
    clock.advance(1)
    assert a.try_acquire_or_renew()
    assert lease_writes(apiserver) == 1
    clock.advance(4)
    assert a.try_acquire_or_renew()
    assert lease_writes(apiserver) == 2
    assert lease(apiserver)["spec"]["renewTime"] == format_micro_time(clock())


def test_the_other_replica_takes_over_only_after_expiry(
    apiserver: FakeApiServer, clock: FakeClock
) -> None:
    a, b = elector(apiserver, "a", clock), elector(apiserver, "b", clock)
    assert a.try_acquire_or_renew()
    clock.advance(5)
    assert a.try_acquire_or_renew()  # last renewal: lease expires 15 s from here
    renewed_at = clock()

    clock.advance(10)
    assert a.is_leader()  # up to its deadline
    clock.advance(0.001)
    assert not a.is_leader()  # a stopped acting 5 s before anyone may take over
    assert a.leadership_deadline == renewed_at + timedelta(seconds=10)

    clock.advance(4.999)  # exactly the expiry: not yet
    assert not b.try_acquire_or_renew()
    clock.advance(0.001)
    assert b.try_acquire_or_renew()
    assert lease(apiserver)["spec"]["holderIdentity"] == "b"
    assert lease(apiserver)["spec"]["leaseTransitions"] == 1
    assert not a.try_acquire_or_renew()  # the old leader comes back as a follower
    assert a.holder == "b"


def test_a_leader_that_cannot_renew_stops_before_the_lease_expires(
    apiserver: FakeApiServer, clock: FakeClock
) -> None:
    a, b = elector(apiserver, "a", clock), elector(apiserver, "b", clock)
    assert a.try_acquire_or_renew()
    apiserver.inject("get", "leases", status=503, times=3)  # the API server is in trouble
    clock.advance(5)
    assert a.try_acquire_or_renew()  # not renewed, still proven by the last renewal
    clock.advance(5)
    assert a.try_acquire_or_renew()  # at the deadline, inclusive
    clock.advance(1)
    assert not a.try_acquire_or_renew()  # past its deadline, 4 s before the expiry
    assert not a.is_leader()
    clock.advance(4.5)
    assert b.try_acquire_or_renew()  # the API is back, the lease has expired


def test_a_stolen_lease_makes_the_leader_stop(apiserver: FakeApiServer, clock: FakeClock) -> None:
    a = elector(apiserver, "a", clock)
    assert a.try_acquire_or_renew()

    def steal(obj: dict[str, Any]) -> None:
        obj["spec"].update(holderIdentity="intruder", renewTime=format_micro_time(clock()))

    apiserver.edit("leases", NAMESPACE, LEASE, steal)
    clock.advance(1)  # the next tick, before a renewal is even due
    assert not a.try_acquire_or_renew()
    assert not a.is_leader()
    assert a.holder == "intruder"


def test_release_hands_over_at_once(apiserver: FakeApiServer, clock: FakeClock) -> None:
    a, b = elector(apiserver, "a", clock), elector(apiserver, "b", clock)
    assert a.try_acquire_or_renew()
    assert a.release()
    assert not a.is_leader()
    assert b.try_acquire_or_renew()  # no waiting for the expiry
    assert not a.release()  # not the holder: nothing to release


def _race(electors: list[LeaseElector]) -> list[bool]:
    results: dict[str, bool] = {}
    threads = [
        threading.Thread(
            target=lambda e=e: results.__setitem__(e.identity, e.try_acquire_or_renew())
        )
        for e in electors
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return [results[e.identity] for e in electors]


def test_two_candidates_racing_to_create_never_both_win(
    apiserver: FakeApiServer, clock: FakeClock
) -> None:
    a, b = elector(apiserver, "a", clock), elector(apiserver, "b", clock)
    # both creates wait for each other: each candidate read "no Lease" before either wrote
    apiserver.barrier("create", "leases", parties=2)
    assert sorted(_race([a, b])) == [False, True]
    creates = sorted(
        c.status for c in apiserver.calls if (c.verb, c.resource) == ("create", "leases")
    )
    assert creates == [201, 409]
    winner = lease(apiserver)["spec"]["holderIdentity"]
    assert [e.is_leader() for e in (a, b)] == [winner == "a", winner == "b"]


def test_two_candidates_racing_for_an_expired_lease_never_both_win(
    apiserver: FakeApiServer, clock: FakeClock
) -> None:
    old = elector(apiserver, "old", clock)
    assert old.try_acquire_or_renew()
    clock.advance(20)
    a, b = elector(apiserver, "a", clock), elector(apiserver, "b", clock)
    # both updates wait for each other: both candidates read the same resourceVersion
    apiserver.barrier("update", "leases", parties=2)
    assert sorted(_race([a, b])) == [False, True]
    updates = sorted(
        c.status for c in apiserver.calls if (c.verb, c.resource) == ("update", "leases")
    )
    assert updates == [200, 409]


def test_a_forbidden_lease_raises_with_the_missing_permission(
    apiserver: FakeApiServer, clock: FakeClock
) -> None:
    a = elector(apiserver, "a", clock)
    assert a.try_acquire_or_renew()
    assert apiserver.rbac is not None
    apiserver.rbac.revoke("update", "coordination.k8s.io", "leases")
    clock.advance(5)
    with pytest.raises(
        LeaderElectionError,
        match=r"forbidden: cannot update leases\.coordination\.k8s\.io stratops-controller in "
        r"namespace stratops — grant it in the controller's Role",
    ):
        a.try_acquire_or_renew()
    assert not a.is_leader()
