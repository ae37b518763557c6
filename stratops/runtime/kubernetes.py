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
- ``halt``: send the :class:`~stratops.paper.control.HaltCommand` through the control
  ConfigMap the pod mounts at ``/control``, then annotate the Deployment halted
  (``stratops.io/halted-by``, ``-reason``, ``-at``, ``-mode``, ``halt-command``); the pod's
  paper process applies it (flatten, reduce-only, hold) and keeps running, and its
  acknowledgement and positions come back in the ``run.json`` it publishes to the telemetry
  bucket. The call waits up to ``halt_wait_seconds`` for it (less than the leader's lease
  margin: a tick does not renew the Lease); a pod that has not acknowledged within
  ``halt_ack_seconds`` is FAILED, and the planner's RESTART (``deploy`` of the halted version)
  scales it to zero (``stratops.io/halt-stopped`` says why), as the local runtime stops a
  silent process; without a bucket to read acknowledgements from, the halt stops it at once.
  The command comes first, so no Deployment says halted while its pod was never told; a call
  that died in between finds the command in the ConfigMap at the next halt and annotates that
  same command (the pod applies an id once).
- ``remove``: delete the Deployment (foreground: it goes once its pods are gone) and both
  ConfigMaps. The controller writes the audit event before it calls ``remove``.
- ``telemetry_folder``: an incremental local mirror of the deployment's bucket prefix under
  ``telemetry_mirror`` (:mod:`stratops.telemetry.objectstore`), for the canary reader and the
  reconciliation; ``list`` reads each pod's ``run.json`` from the bucket for its status.
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
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.fs as pafs
from pydantic import ValidationError

from stratops.model.base import STAGE_ORDER, Stage
from stratops.model.deployment import DeploymentSpec, DeploymentStatus, TelemetrySource
from stratops.model.strategy import HaltBehaviour
from stratops.paper.checkpoint import CHECKPOINT_FILE
from stratops.paper.control import CONTROL_FILE, HaltCommand, ProcessStatus
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
    HALT_STOPPED,
    SELECTOR,
    InvalidSpec,
    build_config_map,
    build_control_map,
    build_deployment,
    control_name,
    object_name,
    telemetry_uri,
    with_halt,
    with_restart,
)
from stratops.runtime.k8s_state import (
    acknowledged,
    annotations_of,
    converged,
    halt_command,
    halt_update,
    held_spec,
    is_halted,
    is_stopped,
    keep_halt,
    labels_of,
    lifts_halt,
    merged,
    observe,
    restart_needed,
    stop_update,
    stored_spec,
    unacknowledged,
)
from stratops.telemetry.objectstore import (
    TelemetryStoreUnavailable,
    mirror,
    object_path,
    read_object,
    s3_filesystem,
)
from stratops.telemetry.schema import RUN_FILE

T = TypeVar("T")
ROLE_FILE = "manifests/deploy/20-role.yaml"
RELISTS = 3  # fresh starts of a list whose snapshot expired (410 Gone)
READERS = 8  # concurrent reads of the pods' run.json in list()

READ_ATTEMPTS = 3  # of a pod's run.json that does not parse (an upload in between)
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
        telemetry_mirror: Path | None = None,
    ) -> None:
        """``api_client``: a ``kubernetes.client.ApiClient`` (see the ``from_*`` constructors);
        ``telemetry_mirror``: the folder the pods' telemetry is mirrored into (under the
        controller's state folder)."""
        self.config = config
        self.namespace = config.namespace
        self.api = KubeApi(api_client, timeout_seconds=config.request_timeout_seconds)
        self.clock = clock
        self.sleep = sleep
        self.telemetry_mirror = telemetry_mirror
        self._store: pafs.FileSystem | None = None
        self._synced: dict[str, float] = {}  # prefix -> monotonic time of its last sync

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
        telemetry_mirror: Path | None = None,
    ) -> KubernetesRuntime:
        """From an explicit ``kubernetes.client.Configuration`` (host URL, credentials)."""
        return cls(
            api_client_from_configuration(configuration),
            config,
            clock=clock,
            sleep=sleep,
            telemetry_mirror=telemetry_mirror,
        )

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

    def _status(
        self, deployment: Json, config_map: Json | None, reported: ProcessStatus | None = None
    ) -> DeploymentStatus:
        status = observe(
            deployment,
            config_map,
            now=self.clock(),
            unavailable_after=timedelta(seconds=self.config.unavailable_after_seconds),
            reported=reported,
            ack_after=self._ack_after(),
        )
        if status is None:
            raise self._unreadable(deployment)
        return status

    def _ack_after(self) -> timedelta | None:
        """How long a halted pod has to acknowledge; None without a bucket to read it from."""
        if self.config.telemetry_bucket is None:
            return None
        return timedelta(seconds=self.config.halt_ack_seconds)

    def _unreadable(self, deployment: Json) -> RuntimeRejected:
        name = _name_of(deployment)
        return RuntimeRejected(
            f"deployment {self.namespace}/{name} has no readable stratops.io/spec "
            f"annotation (edited by hand?): kubectl -n {self.namespace} delete deployment "
            f"{name}, and the controller deploys it again"
        )

    def list(self) -> list[DeploymentStatus]:
        deployments = self._list_all(DEPLOYMENTS)
        config_maps = {_name_of(cm): cm for cm in self._list_all(CONFIG_MAPS)}
        specs = [stored_spec(deployment) for deployment in deployments]
        with ThreadPoolExecutor(READERS) as pool:
            reports = list(pool.map(self._reported, specs))
        statuses = []
        for deployment, reported in zip(deployments, reports, strict=True):
            try:
                statuses.append(
                    self._status(deployment, config_maps.get(_name_of(deployment)), reported)
                )
            except RuntimeRejected as exc:
                log.warning("skipping an unreadable deployment: %s", exc)
        return sorted(statuses, key=lambda s: (s.spec.strategy, STAGE_ORDER.index(s.spec.stage)))

    def _converge_config_map(self, desired: Json) -> tuple[Json, bool]:
        """The ConfigMap ``desired`` as it stands after converging (its data and our labels),
        and whether an existing one had other data."""
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
            if held is None and lifts_halt(current, spec):
                self._delete_control(spec.strategy, spec.stage)  # its pod must not read it
            effective = held or spec
            config_map, rewritten = self._converge_config_map(
                build_config_map(effective, self.config)
            )
            desired = build_deployment(effective, self.config, actor=actor, reason=reason, at=now)
            if current is not None and held is not None:
                desired = keep_halt(desired, current)
                late = unacknowledged(
                    current, self._reported(held), now=now, ack_after=self._ack_after()
                )
                if late is not None:  # the restart of a halt the pod never acknowledged
                    stopped = {**annotations_of(desired), HALT_STOPPED: f"stopped: {late}"}
                    desired = with_halt(desired, stopped)
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
        """Send the halt to the pod over its control ConfigMap; stop the pod if it is silent.

        A second halt keeps the first one's who, why and mode (and sends its command again,
        in case the first call died before it was sent).
        """
        name = self._key(strategy, stage)
        current = self._get(DEPLOYMENTS, name)
        if current is None:
            raise RuntimeRejected(
                f"no deployment {strategy}/{stage.value} to halt in namespace {self.namespace}"
            )
        spec = stored_spec(current)
        if spec is None:
            raise self._unreadable(current)
        command = halt_command(current)
        if command is not None:
            self._send(strategy, stage, command)  # again: the first call may have died before
        elif not is_halted(current):
            at = self.clock()
            command = self._sent(strategy, stage) or HaltCommand(
                mode=mode or spec.halt,
                id=f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
                by=actor,
                reason=reason,
            )  # a command sent by a call that died before it annotated is the same halt
            self._send(strategy, stage, command)
            current = self._write_halt(
                name, lambda body: halt_update(body, command, at=at.isoformat())
            )
        reported = self._reported(spec)
        if not is_stopped(current) and command is not None:
            reported = self._acknowledgement(spec, command, reported)
            late = unacknowledged(current, reported, now=self.clock(), ack_after=self._ack_after())
            why = (
                "stopped: no telemetryBucket to read the pod's acknowledgement from"
                if self.config.telemetry_bucket is None
                else None
                if late is None
                else f"stopped: {late}"
            )
            if why is not None:
                log.warning("%s/%s: %s", self.namespace, name, why)
                current = self._write_halt(name, lambda body: stop_update(body, why))
        return self._status(current, self._get(CONFIG_MAPS, name), reported)

    def _write_halt(self, name: str, change: Callable[[Json], Json | None]) -> Json:
        """Apply ``change`` to the Deployment (None: nothing to change), re-reading on 409."""
        for _ in range(self.config.max_conflicts):
            current = self._get(DEPLOYMENTS, name)
            if current is None:
                raise RuntimeRejected(f"deployment {self.namespace}/{name} was removed meanwhile")
            body = change(current)
            try:
                return current if body is None else self._update(DEPLOYMENTS, body)
            except ApiError:
                continue
        raise self._conflicted(DEPLOYMENTS, name)

    def _send(self, strategy: str, stage: Stage, command: HaltCommand) -> None:
        """Converge the control ConfigMap to ``command``."""
        self._converge_config_map(build_control_map(strategy, stage, command, self.config))

    def _sent(self, strategy: str, stage: Stage) -> HaltCommand | None:
        """The command in the control ConfigMap; None when there is none (or not one)."""
        found = self._get(CONFIG_MAPS, control_name(strategy, stage))
        text = ((found or {}).get("data") or {}).get(CONTROL_FILE)
        try:
            return None if text is None else HaltCommand.model_validate_json(text)
        except ValidationError:
            return None

    def _delete_control(self, strategy: str, stage: Stage) -> None:
        name = control_name(strategy, stage)
        self._api(lambda: self.api.delete(CONFIG_MAPS, self.namespace, name))

    def _acknowledgement(
        self, spec: DeploymentSpec, command: HaltCommand, reported: ProcessStatus | None
    ) -> ProcessStatus | None:
        """What the pod reports after up to ``halt_wait_seconds`` waiting for it to
        acknowledge ``command`` (at once without a bucket: nothing can be read)."""
        if self.config.telemetry_bucket is None:
            return reported
        polls = math.ceil(self.config.halt_wait_seconds / self.config.halt_poll_seconds)
        for _ in range(polls):
            if acknowledged(reported, command):
                break
            self.sleep(self.config.halt_poll_seconds)
            reported = self._reported(spec)
        return reported

    def remove(self, strategy: str, stage: Stage, *, actor: str, reason: str) -> None:
        name = self._key(strategy, stage)
        removed = self._api(lambda: self.api.delete(DEPLOYMENTS, self.namespace, name))
        self._api(lambda: self.api.delete(CONFIG_MAPS, self.namespace, name))
        self._delete_control(strategy, stage)
        if removed:
            log.info("removed %s/%s by %s: %s", self.namespace, name, actor, reason)

    # telemetry: the bucket the pods publish to

    def telemetry(self, spec: DeploymentSpec) -> TelemetrySource:
        """``<telemetryBucket>/<object name>/v<version>``: where the version's pod publishes."""
        uri = telemetry_uri(spec, self.config)
        if uri is None:
            raise RuntimeRejected(
                "no telemetryBucket in the runtime configuration: the controller cannot read "
                f"the telemetry of {spec.strategy}/{spec.stage.value}"
            )
        return TelemetrySource(uri=uri, endpoint=self.config.telemetry_endpoint)

    def _filesystem(self) -> pafs.FileSystem:
        if self._store is None:
            self._store = s3_filesystem(
                self.config.telemetry_endpoint,
                request_timeout=self.config.request_timeout_seconds,
            )
        return self._store

    def telemetry_folder(self, spec: DeploymentSpec) -> Path:
        """The local mirror of the deployment's telemetry, brought up to date now.

        Raises
        ------
        RuntimeRejected
            No bucket or no mirror folder configured.
        RuntimeUnavailable
            The store cannot be read (the message names the endpoint and the prefix).
        """
        source = self.telemetry(spec)
        if self.telemetry_mirror is None:
            raise RuntimeRejected(
                "the Kubernetes runtime was given no telemetry mirror folder: the controller "
                f"cannot read the telemetry of {spec.strategy}/{spec.stage.value} ({source.uri})"
            )
        path = object_path(source.uri)
        local = self.telemetry_mirror / path
        fresh = self._synced.get(path)
        if fresh is not None and time.monotonic() - fresh < self.config.telemetry_sync_seconds:
            return local  # the canary judge, the reconciliation, the metrics: one sync a tick
        try:
            mirror(self._filesystem(), path, local, source.endpoint, skip=(CHECKPOINT_FILE,))
            self._synced[path] = time.monotonic()
        except TelemetryStoreUnavailable as exc:
            raise RuntimeUnavailable(
                f"telemetry of {spec.strategy}/{spec.stage.value}: {exc}"
            ) from exc
        return local

    def _reported(self, spec: DeploymentSpec | None) -> ProcessStatus | None:
        """What the pod of ``spec`` last published in ``run.json``; None when nothing (yet),
        no bucket, or the store cannot be read (logged: the status then says nothing of it)."""
        uri = None if spec is None else telemetry_uri(spec, self.config)
        if uri is None:
            return None
        for attempt in range(READ_ATTEMPTS):  # a read racing the pod's upload: read again
            try:
                data = read_object(
                    self._filesystem(),
                    f"{object_path(uri)}/{RUN_FILE}",
                    self.config.telemetry_endpoint,
                )
                return None if data is None else ProcessStatus.model_validate(json.loads(data))
            except TelemetryStoreUnavailable as exc:
                log.warning("pod status not read: %s", exc)
                return None
            except (ValueError, ValidationError) as exc:
                if attempt == READ_ATTEMPTS - 1:
                    log.warning("pod status unreadable in %s/%s: %s", uri, RUN_FILE, exc)
        return None

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
