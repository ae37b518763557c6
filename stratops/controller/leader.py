"""Leader election through a ``coordination.k8s.io/v1`` Lease: one controller replica acts.

The controller runs as several replicas; only the holder of the Lease reconciles. The loop
calls :meth:`LeaseElector.try_acquire_or_renew` at the top of each tick and
:meth:`LeaseElector.is_leader` before every action.

- A missing Lease is created; a Lease held by another replica is taken over only once it has
  expired (``renewTime + leaseDurationSeconds < now``, on the reader's clock: replicas are
  assumed NTP-synchronised to well within the safety margin), or at once when released
  (no holder). A holder without ``renewTime`` cannot prove it is alive and counts as expired.
- Every write carries the ``resourceVersion`` that was read, so of two replicas racing for
  the same Lease the API server accepts one write and answers the other 409 Conflict: the
  loser reports False. Two candidates never both win.
- The holder renews every ``renew_seconds`` (it reads the Lease every tick, so a stolen Lease
  is noticed at the next tick, not the next renewal).
- :meth:`~LeaseElector.is_leader` turns False at ``last successful renewal + lease_seconds -
  safety_margin_seconds`` (the :attr:`~LeaseElector.leadership_deadline`), *before* anyone else
  may take the Lease over. The margin (default: ``renew_seconds``) must cover the clock skew
  between replicas and the duration of one action started just before the deadline. The
  renewal time recorded is read *before* the request is sent, so a slow request only makes
  the deadline earlier. With the defaults (15 s lease, 5 s renewal, 5 s margin) a leader that
  cannot reach the API server stops acting 10 s after its last renewal, 5 s before another
  replica may start.
- Transient API errors keep the leadership until that deadline (it was proven by the last
  renewal); a refused request (403, 422, ...) drops it and raises
  :class:`LeaderElectionError`.

RBAC: leases.coordination.k8s.io get, create, update in the controller's namespace.
Tested against a fake API server (``tests/kubernetes/fake_apiserver.py``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from stratops.runtime.k8s_api import LEASES, ApiError, Json, KubeApi

log = logging.getLogger(__name__)
ROLE_FILE = "manifests/deploy/20-role.yaml"


class LeaderElectionError(Exception):
    """The API server refused the Lease request; retrying will not help (RBAC, invalid)."""


class LeaseAction(StrEnum):
    CREATE = "create"  # no Lease yet
    RENEW = "renew"  # held by us
    TAKE_OVER = "take_over"  # released, expired, or unprovable
    FOLLOW = "follow"  # held by another replica, not expired


@dataclass(frozen=True)
class LeaseDecision:
    action: LeaseAction
    holder: str | None = None
    expires: datetime | None = None


def format_micro_time(moment: datetime) -> str:
    """Kubernetes ``MicroTime``: RFC 3339 with exactly six fractional digits, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _spec(lease: Mapping[str, Any]) -> Mapping[str, Any]:
    return lease.get("spec") or {}


def lease_expiry(lease: Mapping[str, Any]) -> datetime | None:
    """``renewTime`` (else ``acquireTime``) + ``leaseDurationSeconds``; None when unknown."""
    spec = _spec(lease)
    renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or not isinstance(duration, int):
        return None
    return renewed + timedelta(seconds=duration)


def decide(lease: Mapping[str, Any] | None, identity: str, now: datetime) -> LeaseDecision:
    """What ``identity`` may do with ``lease`` at ``now``."""
    if lease is None:
        return LeaseDecision(LeaseAction.CREATE)
    holder = _spec(lease).get("holderIdentity") or None
    expires = lease_expiry(lease)
    if holder == identity:
        return LeaseDecision(LeaseAction.RENEW, holder, expires)
    if holder is None or expires is None or expires < now:
        return LeaseDecision(LeaseAction.TAKE_OVER, holder, expires)
    return LeaseDecision(LeaseAction.FOLLOW, holder, expires)


def new_lease(name: str, namespace: str, identity: str, now: datetime, seconds: int) -> Json:
    stamp = format_micro_time(now)
    return {
        "apiVersion": LEASES.api_version,
        "kind": LEASES.kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "stratops"},
        },
        "spec": {
            "holderIdentity": identity,
            "leaseDurationSeconds": seconds,
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": 0,
        },
    }


def _copy(lease: Mapping[str, Any]) -> Json:
    body = copy.deepcopy(dict(lease))
    body.setdefault("spec", {})
    return body


def renewed(lease: Mapping[str, Any], now: datetime, seconds: int) -> Json:
    """``lease`` (with its resourceVersion) renewed at ``now``."""
    body = _copy(lease)
    body["spec"].update({"renewTime": format_micro_time(now), "leaseDurationSeconds": seconds})
    return body


def taken_over(lease: Mapping[str, Any], identity: str, now: datetime, seconds: int) -> Json:
    """``lease`` (with its resourceVersion) claimed by ``identity``: one more transition."""
    body = _copy(lease)
    spec = body["spec"]
    transitions = int(spec.get("leaseTransitions") or 0)
    changed = 1 if spec.get("holderIdentity") != identity else 0
    stamp = format_micro_time(now)
    spec.update(
        {
            "holderIdentity": identity,
            "leaseDurationSeconds": seconds,
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions + changed,
        }
    )
    return body


def released(lease: Mapping[str, Any], now: datetime) -> Json:
    """``lease`` without a holder: the next candidate takes it at once."""
    body = _copy(lease)
    body["spec"].pop("holderIdentity", None)
    body["spec"].update({"renewTime": format_micro_time(now), "leaseDurationSeconds": 1})
    return body


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LeaseElector:
    """One controller replica's view of the Lease ``namespace/name``."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: int = 15,
        renew_seconds: float = 5,
        clock: Callable[[], datetime] = _utc_now,
        *,
        safety_margin_seconds: float | None = None,
        request_timeout_seconds: float | None = None,
    ) -> None:
        """``api_client``: a ``kubernetes.client.ApiClient``; ``identity``: unique per replica
        (the pod name). Requests time out after ``renew_seconds`` unless told otherwise."""
        margin = renew_seconds if safety_margin_seconds is None else safety_margin_seconds
        if not identity:
            raise ValueError("a leader elector needs a non-empty identity (the pod name)")
        if lease_seconds <= 0 or renew_seconds <= 0 or margin < 0:
            raise ValueError("lease_seconds and renew_seconds must be > 0, the margin >= 0")
        if renew_seconds >= lease_seconds - margin:
            raise ValueError(
                f"renew_seconds ({renew_seconds}) must be less than lease_seconds "
                f"({lease_seconds}) - safety margin ({margin}): the leader must renew before "
                "its own leadership deadline"
            )
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.safety_margin_seconds = margin
        self.clock = clock
        self.holder: str | None = None  # last holder seen, for display
        self._api = KubeApi(api_client, timeout_seconds=request_timeout_seconds or renew_seconds)
        self._last_renew: datetime | None = None

    @property
    def leadership_deadline(self) -> datetime | None:
        """When this replica stops acting unless it renews; None when it does not lead."""
        if self._last_renew is None:
            return None
        return self._last_renew + timedelta(seconds=self.lease_seconds - self.safety_margin_seconds)

    def is_leader(self) -> bool:
        """True only while the last successful renewal proves the leadership."""
        deadline = self.leadership_deadline
        return deadline is not None and self.clock() <= deadline

    def _renewal_due(self, now: datetime) -> bool:
        return self._last_renew is None or now - self._last_renew >= timedelta(
            seconds=self.renew_seconds
        )

    def _refused(self, error: ApiError) -> LeaderElectionError:
        if error.status == 403:
            return LeaderElectionError(
                f"forbidden: cannot {error.verb} leases.coordination.k8s.io {self.name} in "
                f"namespace {self.namespace} — grant it in the controller's Role "
                f"({ROLE_FILE}): {error.message}"
            )
        return LeaderElectionError(f"lease {self.namespace}/{self.name}: {error}")

    def try_acquire_or_renew(self) -> bool:
        """Create, renew or take over the Lease when allowed; True when this replica leads."""
        now = self.clock()
        try:
            lease = self._api.get(LEASES, self.namespace, self.name)
            decision = decide(lease, self.identity, now)
            self.holder = decision.holder
            if decision.action is LeaseAction.FOLLOW:
                self._last_renew = None
                return False
            if lease is None:
                body = new_lease(self.name, self.namespace, self.identity, now, self.lease_seconds)
                self._api.create(LEASES, self.namespace, body)
            elif decision.action is LeaseAction.RENEW and not self._renewal_due(now):
                return self.is_leader()
            elif decision.action is LeaseAction.RENEW:
                self._api.update(LEASES, self.namespace, renewed(lease, now, self.lease_seconds))
            else:
                body = taken_over(lease, self.identity, now, self.lease_seconds)
                self._api.update(LEASES, self.namespace, body)
        except ApiError as error:
            if error.status in (404, 409):  # another replica wrote first, or deleted it
                self._last_renew = None
                return False
            if error.transient:
                log.warning("lease %s/%s: %s", self.namespace, self.name, error)
                return self.is_leader()
            self._last_renew = None
            raise self._refused(error) from error
        if self._last_renew is None:
            log.info("%s leads through lease %s/%s", self.identity, self.namespace, self.name)
        self._last_renew = now
        self.holder = self.identity
        return True

    def release(self) -> bool:
        """Stop leading and clear the Lease's holder if it is this replica (best effort: an
        unreleased Lease simply expires). True when the Lease was released."""
        self._last_renew = None
        try:
            lease = self._api.get(LEASES, self.namespace, self.name)
            if lease is None or _spec(lease).get("holderIdentity") != self.identity:
                return False
            self._api.update(LEASES, self.namespace, released(lease, self.clock()))
        except ApiError as error:
            log.warning("lease %s/%s not released: %s", self.namespace, self.name, error)
            return False
        self.holder = None
        return True
