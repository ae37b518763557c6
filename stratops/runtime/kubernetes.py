"""The Kubernetes runtime: one Deployment (and one ConfigMap) per (strategy, stage).

Level-triggered like a controller-runtime reconciler: every call reads the objects fresh,
returns early when they already are what the spec asks for, and otherwise writes the whole
owned part of the object with the ``resourceVersion`` it read. A 409 Conflict (someone wrote
in between) or AlreadyExists means: read again and re-plan from the fresh object, never
overwrite blindly; after ``max_conflicts`` rounds the call fails as retryable.

- ``deploy``: converge the ConfigMap, then the Deployment (one replica). A hand edit of
  either is corrected; a corrected ConfigMap, or a deployment without an available pod for
  ``unavailable_after_seconds``, also rolls the pod (a restart annotation on the template).
  A halted deployment stays halted while its version stays (see :mod:`.k8s_state`).
- ``halt``: scale to zero with ``stratops.io/halted-by``, ``-reason`` and ``-at``; the pod
  gets SIGTERM and ``termination_grace_seconds`` to apply the halt behaviour.
- ``remove``: delete the Deployment (foreground: it goes once its pods are gone) and the
  ConfigMap. The controller writes the audit event before it calls ``remove``.
- ``list``: Deployments and ConfigMaps labelled ``app.kubernetes.io/managed-by=stratops``,
  paged; a 410 Gone (the list snapshot expired mid-way) starts the list again, a 404 (no such
  namespace) is an empty list.

Errors: transient ones (unreachable, timeouts, 429, 5xx) are retried with backoff and then
raised as :class:`RuntimeUnavailable`; 403 is :class:`RuntimeRejected` naming the verb,
resource and namespace the controller's Role lacks. The RBAC this needs: deployments.apps and
configmaps: get, list, create, update, delete (``manifests/deploy/20-role.yaml``).

Tested against a fake API server (``tests/kubernetes/fake_apiserver.py``), not a live cluster.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from stratops.model.base import STAGE_ORDER, Stage
from stratops.model.deployment import DeploymentSpec, DeploymentStatus, TelemetrySource
from stratops.model.strategy import HaltBehaviour
from stratops.retry import RetriesExhausted, call_with_retries
from stratops.runtime.base import RuntimeFailure, RuntimeHealth, RuntimeRejected, RuntimeUnavailable
from stratops.runtime.k8s_api import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    ApiError,
    Json,
    KubeApi,
    KubeConfigError,
    Resource,
    api_client_from_configuration,
    api_client_from_kubeconfig,
    api_client_in_cluster,
    retry_decision,
)
from stratops.runtime.k8s_config import KubernetesRuntimeConfig
from stratops.runtime.k8s_objects import (
    SELECTOR,
    InvalidSpec,
    build_config_map,
    build_deployment,
    object_name,
    with_restart,
)
from stratops.runtime.k8s_state import (
    converged,
    halt_update,
    held_spec,
    keep_halt,
    labels_of,
    merged,
    observe,
    restart_needed,
    stored_spec,
)

T = TypeVar("T")
ROLE_FILE = "manifests/deploy/20-role.yaml"
RELISTS = 3  # fresh starts of a list whose snapshot expired (410 Gone)

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _name_of(obj: Json) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def _target(error: ApiError) -> str:
    return f"{error.resource.qualified} {error.name or ''}".rstrip()


def unavailable(gave_up: RetriesExhausted) -> RuntimeUnavailable:
    """The runtime error for a transient API error that outlasted the retries."""
    error = gave_up.last
    assert isinstance(error, ApiError)  # retry_decision retries nothing else
    said = f"{error.status} {error.reason}" if error.status else "no response"
    return RuntimeUnavailable(
        f"Kubernetes API unavailable after {gave_up.attempts} attempt(s) to {error.verb} "
        f"{_target(error)} in namespace {error.namespace}: {said}: {error.message}",
        retry_after=gave_up.retry_after,
    )


def rejection(error: ApiError) -> RuntimeRejected:
    """The runtime error for a permanent API error the runtime cannot handle itself."""
    target = _target(error)
    if error.status == 403:
        return RuntimeRejected(
            f"forbidden: cannot {error.verb} {error.resource.qualified} in namespace "
            f"{error.namespace} — grant it in the controller's Role ({ROLE_FILE}); "
            f"the API server said: {error.message}"
        )
    if error.status == 401:
        return RuntimeRejected(
            "unauthorized: the API server refused the controller's credentials (expired token "
            f"or wrong kubeconfig): {error.message}"
        )
    if error.status == 404 and error.verb == "create":
        return RuntimeRejected(
            f"cannot create {target}: {error.message} — does namespace {error.namespace} "
            "exist? (kubectl apply -f manifests/deploy/)"
        )
    return RuntimeRejected(
        f"the API server refused to {error.verb} {target} in namespace {error.namespace}: "
        f"{error.status} {error.reason}: {error.message}"
    )


class KubernetesRuntime:
    name = "kubernetes"

    def __init__(
        self,
        api_client: Any,
        config: KubernetesRuntimeConfig,
        *,
        clock: Callable[[], datetime] = _now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``api_client``: a ``kubernetes.client.ApiClient`` (see the ``from_*`` constructors)."""
        self.config = config
        self.namespace = config.namespace
        self.api = KubeApi(api_client, timeout_seconds=config.request_timeout_seconds)
        self.clock = clock
        self.sleep = sleep

    @classmethod
    def from_kubeconfig(
        cls, config: KubernetesRuntimeConfig, *, path: str | None = None, context: str | None = None
    ) -> KubernetesRuntime:
        try:
            return cls(api_client_from_kubeconfig(path, context), config)
        except KubeConfigError as exc:
            raise RuntimeRejected(str(exc)) from exc

    @classmethod
    def in_cluster(cls, config: KubernetesRuntimeConfig) -> KubernetesRuntime:
        try:
            return cls(api_client_in_cluster(), config)
        except KubeConfigError as exc:
            raise RuntimeRejected(str(exc)) from exc

    @classmethod
    def from_configuration(
        cls,
        configuration: Any,
        config: KubernetesRuntimeConfig,
        *,
        clock: Callable[[], datetime] = _now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> KubernetesRuntime:
        """From an explicit ``kubernetes.client.Configuration`` (host URL, credentials)."""
        return cls(api_client_from_configuration(configuration), config, clock=clock, sleep=sleep)

    # API calls: retried when transient, translated unless the caller handles the status

    def _api(self, call: Callable[[], T], handled: frozenset[int] = frozenset()) -> T:
        try:
            return call_with_retries(
                call, self.config.retry, classify=retry_decision, sleep=self.sleep
            )
        except RetriesExhausted as gave_up:
            raise unavailable(gave_up) from gave_up.__cause__
        except ApiError as error:
            if error.status in handled:
                raise
            raise rejection(error) from error

    def _get(self, resource: Resource, name: str) -> Json | None:
        return self._api(lambda: self.api.get(resource, self.namespace, name))

    def _create(self, resource: Resource, body: Json) -> Json:
        """Create; 409 AlreadyExists is raised as ApiError for the caller to re-read."""
        return self._api(lambda: self.api.create(resource, self.namespace, body), frozenset({409}))

    def _update(self, resource: Resource, body: Json) -> Json:
        """Update; 409 Conflict and 404 (deleted meanwhile) are raised for a re-read."""
        return self._api(
            lambda: self.api.update(resource, self.namespace, body), frozenset({404, 409})
        )

    def _page(self, resource: Resource, token: str | None) -> Json:
        return self._api(
            lambda: self.api.list(
                resource,
                self.namespace,
                label_selector=SELECTOR,
                limit=self.config.page_size,
                continue_token=token,
            ),
            frozenset({404, 410}),
        )

    def _list_all(self, resource: Resource) -> list[Json]:
        for _ in range(RELISTS):
            items: list[Json] = []
            token: str | None = None
            try:
                while True:
                    page = self._page(resource, token)
                    items.extend(page.get("items") or [])
                    token = (page.get("metadata") or {}).get("continue") or None
                    if token is None:
                        return items
            except ApiError as error:
                if error.status == 404:
                    return []  # no such namespace: nothing is managed there
                log.info("list of %s expired (410 Gone): listing again", resource.qualified)
        raise RuntimeUnavailable(
            f"the list of {resource.qualified} in namespace {self.namespace} expired "
            f"(410 Gone) {RELISTS} times in a row: the cluster changes faster than it pages"
        )

    def _conflicted(self, resource: Resource, name: str) -> RuntimeUnavailable:
        return RuntimeUnavailable(
            f"{resource.qualified} {self.namespace}/{name} changed under stratops "
            f"{self.config.max_conflicts} times in a row (409 Conflict): another writer keeps "
            "updating it; the next tick tries again"
        )

    # the Runtime protocol

    def _key(self, strategy: str, stage: Stage) -> str:
        try:
            return object_name(strategy, stage)
        except InvalidSpec as exc:
            raise RuntimeRejected(str(exc)) from exc

    def _status(self, deployment: Json, config_map: Json | None) -> DeploymentStatus:
        status = observe(
            deployment,
            config_map,
            now=self.clock(),
            unavailable_after=timedelta(seconds=self.config.unavailable_after_seconds),
        )
        if status is None:
            name = _name_of(deployment)
            raise RuntimeRejected(
                f"deployment {self.namespace}/{name} has no readable stratops.io/spec "
                f"annotation (edited by hand?): kubectl -n {self.namespace} delete deployment "
                f"{name}, and the controller deploys it again"
            )
        return status

    def list(self) -> list[DeploymentStatus]:
        deployments = self._list_all(DEPLOYMENTS)
        config_maps = {_name_of(cm): cm for cm in self._list_all(CONFIG_MAPS)}
        statuses = []
        for deployment in deployments:
            try:
                statuses.append(self._status(deployment, config_maps.get(_name_of(deployment))))
            except RuntimeRejected as exc:
                log.warning("skipping an unreadable deployment: %s", exc)
        return sorted(statuses, key=lambda s: (s.spec.strategy, STAGE_ORDER.index(s.spec.stage)))

    def _converge_config_map(self, spec: DeploymentSpec) -> tuple[Json, bool]:
        """The ConfigMap of ``spec``, and whether an existing one had other data."""
        desired = build_config_map(spec, self.config)
        name = _name_of(desired)
        for _ in range(self.config.max_conflicts):
            current = self._get(CONFIG_MAPS, name)
            try:
                if current is None:
                    return self._create(CONFIG_MAPS, desired), False
                same_labels = all(
                    labels_of(current).get(k) == v for k, v in labels_of(desired).items()
                )
                if current.get("data") == desired["data"] and same_labels:
                    return current, False
                body = copy.deepcopy(current)
                body["metadata"]["labels"] = {**labels_of(current), **labels_of(desired)}
                body["data"] = desired["data"]
                body.pop("binaryData", None)
                return self._update(CONFIG_MAPS, body), current.get("data") != desired["data"]
            except ApiError:
                continue  # created or changed meanwhile: read again
        raise self._conflicted(CONFIG_MAPS, name)

    def deploy(self, spec: DeploymentSpec, *, actor: str, reason: str) -> DeploymentStatus:
        name = self._key(spec.strategy, spec.stage)
        now = self.clock()
        restart = False
        for _ in range(self.config.max_conflicts):
            current = self._get(DEPLOYMENTS, name)
            held = held_spec(current, spec)
            effective = held or spec
            config_map, rewritten = self._converge_config_map(effective)
            desired = build_deployment(effective, self.config, actor=actor, reason=reason, at=now)
            if current is not None and held is not None:
                desired = keep_halt(desired, current)
            restart = restart or (
                held is None
                and restart_needed(
                    current,
                    desired,
                    config_rewritten=rewritten,
                    now=now,
                    unavailable_after=timedelta(seconds=self.config.unavailable_after_seconds),
                )
            )
            try:
                if current is None:
                    return self._status(self._create(DEPLOYMENTS, desired), config_map)
                if not restart and converged(current, desired):
                    return self._status(current, config_map)
                target = with_restart(desired, now) if restart else desired
                return self._status(self._update(DEPLOYMENTS, merged(current, target)), config_map)
            except ApiError:
                continue  # AlreadyExists, Conflict or deleted meanwhile: re-read and re-plan
        raise self._conflicted(DEPLOYMENTS, name)

    def halt(
        self,
        strategy: str,
        stage: Stage,
        *,
        actor: str,
        reason: str,
        mode: HaltBehaviour | None = None,
    ) -> DeploymentStatus:
        """Scale the Deployment to zero, annotated with who halted it and why.

        The pods stop, so every ``mode`` keeps the position as it stands: flattening through
        the pod's control channel is not implemented on Kubernetes yet.
        """
        name = self._key(strategy, stage)
        at = self.clock().isoformat()
        for _ in range(self.config.max_conflicts):
            current = self._get(DEPLOYMENTS, name)
            if current is None:
                raise RuntimeRejected(
                    f"no deployment {strategy}/{stage.value} to halt in namespace {self.namespace}"
                )
            body = halt_update(current, by=actor, reason=reason, at=at)
            try:
                result = current if body is None else self._update(DEPLOYMENTS, body)
            except ApiError:
                continue
            return self._status(result, self._get(CONFIG_MAPS, name))
        raise self._conflicted(DEPLOYMENTS, name)

    def remove(self, strategy: str, stage: Stage, *, actor: str, reason: str) -> None:
        name = self._key(strategy, stage)
        removed = self._api(lambda: self.api.delete(DEPLOYMENTS, self.namespace, name))
        self._api(lambda: self.api.delete(CONFIG_MAPS, self.namespace, name))
        if removed:
            log.info("removed %s/%s by %s: %s", self.namespace, name, actor, reason)

    def telemetry(self, spec: DeploymentSpec) -> TelemetrySource:
        """``<telemetryBucket>/<object name>/v<version>``: where the version's pods write."""
        bucket = self.config.telemetry_bucket
        if bucket is None:
            raise RuntimeRejected(
                "no telemetryBucket in the runtime configuration: the controller cannot read "
                f"the telemetry of {spec.strategy}/{spec.stage.value}"
            )
        prefix = f"{bucket.rstrip('/')}/{object_name(spec.strategy, spec.stage)}/v{spec.version}"
        return TelemetrySource(uri=prefix, endpoint=self.config.telemetry_endpoint)

    def health(self) -> RuntimeHealth:
        try:
            deployments = self._list_all(DEPLOYMENTS)
        except RuntimeFailure as exc:
            return RuntimeHealth(ok=False, detail=str(exc))
        unreadable = sorted(_name_of(d) for d in deployments if stored_spec(d) is None)
        if unreadable:
            return RuntimeHealth(
                ok=False,
                detail=f"managed deployments without a readable stratops.io/spec annotation "
                f"in namespace {self.namespace}: {', '.join(unreadable)}",
            )
        return RuntimeHealth(
            ok=True,
            detail=f"{len(deployments)} deployment(s) in namespace {self.namespace} "
            f"at {self.api.host}",
        )
