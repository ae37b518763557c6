"""A fake Kubernetes API server: real HTTP on loopback, real semantics, official schemas.

No cluster can run here, so the Kubernetes runtime and the leader elector are tested against
this stand-in. It serves Deployments (apps/v1), ConfigMaps (v1) and Leases
(coordination.k8s.io/v1) in namespaces, with the behaviour the clients depend on:

- ``resourceVersion``: one monotonic counter; a PUT carrying a stale one is refused with
  409 Conflict, a create of an existing name with 409 AlreadyExists, a PUT or DELETE of a
  missing object with 404;
- every Deployment, ConfigMap and Lease written is validated like the API server does:
  against the strict JSON Schemas ``kubernetes-validate`` ships (Kubernetes 1.30), plus the
  checks the schemas cannot express (DNS names, label syntax, selector matching the template
  labels, immutable selector, MicroTime format) — failures are 422 Invalid;
- server-side defaulting of Deployments (replicas, strategy, container pull policy, ...) and
  an instant "deployment controller" that fills ``status`` and the revision annotation, so
  clients see objects as a cluster returns them;
- list with label selectors (equality, inequality, existence, ``in``/``notin``), ``limit``
  and ``continue``; :meth:`FakeApiServer.compact` expires outstanding continue tokens
  (410 Gone), as etcd compaction does;
- RBAC from a Role document (verbs, resources, API groups, resourceNames), 403 Forbidden with
  the API server's message otherwise; a bearer token, 401 without it.

Fault injection for the error paths: a status (410, 429, 5xx, 403, ...), a dropped
connection, or a delay, for a verb and resource, a number of times; and hooks that run just
before a request is served (a concurrent writer, a barrier for races). Every request is
recorded (verb, group, resource, name, status) so tests can compare the verbs used with the
Role.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib.resources
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
from referencing import Registry, Resource

Json = dict[str, Any]
SCHEMA_VERSION = "1.30"


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


KINDS = {
    ("apps", "deployments"): Kind("apps", "v1", "deployments", "Deployment"),
    ("", "configmaps"): Kind("", "v1", "configmaps", "ConfigMap"),
    ("coordination.k8s.io", "leases"): Kind("coordination.k8s.io", "v1", "leases", "Lease"),
}
BY_PLURAL = {kind.plural: kind for kind in KINDS.values()}

_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"/namespaces/(?P<namespace>[^/]+)/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?$"
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


class ApiStatus(Exception):
    """A failure answered as a Kubernetes ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: Json | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def body(self) -> Json:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- validation


@functools.cache
def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    """The strict schema of ``kind`` as kubernetes-validate ships it, built once."""
    folder = importlib.resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{SCHEMA_VERSION}.0-local-strict"
    )
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = json.loads(folder.joinpath(f"{kind.lower()}-{group_version}.json").read_text())
    definitions = json.loads(folder.joinpath("_definitions.json").read_text())
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _check_key(key: str, where: str) -> list[str]:
    prefix, _, name = key.rpartition("/")
    problems = []
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        problems.append(f"{where}: Invalid value: {key!r}: prefix part must be a DNS subdomain")
    if len(name) > 63 or not _LABEL_NAME.match(name):
        problems.append(f"{where}: Invalid value: {key!r}: name part must be a qualified name")
    return problems


def _check_metadata(metadata: Mapping[str, Any]) -> list[str]:
    problems = []
    name = metadata.get("name") or ""
    if not name:
        problems.append("metadata.name: Required value: name or generateName is required")
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        problems.append(f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain")
    for key, value in (metadata.get("labels") or {}).items():
        problems += _check_key(key, "metadata.labels")
        if not isinstance(value, str) or (
            value and (len(value) > 63 or not _LABEL_NAME.match(value))
        ):
            problems.append(f"metadata.labels: Invalid value: {value!r}: a valid label value")
    annotations = metadata.get("annotations") or {}
    for key in annotations:
        problems += _check_key(key, "metadata.annotations")
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > 256 * 1024:
        problems.append("metadata.annotations: Too long: must have at most 262144 bytes")
    return problems


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and labels.get(key) in values)
            or (operator == "Exists" and key not in labels)
            or (operator == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def _check_deployment(body: Mapping[str, Any]) -> list[str]:
    spec = body.get("spec") or {}
    problems = []
    selector = spec.get("selector") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        problems.append("spec.selector: Invalid value: empty selector is invalid for deployment")
    template = spec.get("template") or {}
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    if not _matches(selector, template_labels):
        problems.append(
            "spec.template.metadata.labels: Invalid value: `selector` does not match "
            "template `labels`"
        )
    for key, value in template_labels.items():
        problems += _check_key(key, "spec.template.metadata.labels")
        if len(value) > 63 or (value and not _LABEL_NAME.match(value)):
            problems.append(f"spec.template.metadata.labels: Invalid value: {value!r}")
    if int(spec.get("replicas", 1)) < 0:
        problems.append("spec.replicas: Invalid value: must be greater than or equal to 0")
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        problems.append("spec.template.spec.containers: Required value")
    for index, container in enumerate(containers):
        if not _DNS_LABEL.match(container.get("name") or ""):
            problems.append(f"spec.template.spec.containers[{index}].name: Invalid value")
        if not container.get("image"):
            problems.append(f"spec.template.spec.containers[{index}].image: Required value")
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
        problems.append(
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when "
            "strategy `type` is 'Recreate'"
        )
    return problems


def _check_config_map(body: Mapping[str, Any]) -> list[str]:
    data = body.get("data") or {}
    problems = [
        f"data[{key}]: Invalid value: a valid config key must consist of alphanumeric "
        "characters, '-', '_' or '.'"
        for key in data
        if len(key) > 253 or not _CONFIG_KEY.match(key)
    ]
    if sum(len(k) + len(v) for k, v in data.items()) > 1024 * 1024:
        problems.append("data: Too long: must have at most 1048576 bytes")
    return problems


def _check_lease(body: Mapping[str, Any]) -> list[str]:
    spec = body.get("spec") or {}
    problems = [
        f"spec.{key}: Invalid value: {spec[key]!r}: not a MicroTime (RFC 3339, 6 fraction digits)"
        for key in ("acquireTime", "renewTime")
        if spec.get(key) is not None and not _MICRO_TIME.match(str(spec[key]))
    ]
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        problems.append("spec.leaseDurationSeconds: Invalid value: must be greater than 0")
    if (spec.get("leaseTransitions") or 0) < 0:
        problems.append("spec.leaseTransitions: Invalid value: must be greater than or equal to 0")
    return problems


_KIND_CHECKS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "Deployment": _check_deployment,
    "ConfigMap": _check_config_map,
    "Lease": _check_lease,
}


def validate(kind: Kind, body: Mapping[str, Any]) -> None:
    """Refuse ``body`` (400 or 422) as the API server would."""
    if body.get("kind") != kind.kind or body.get("apiVersion") != kind.api_version:
        raise ApiStatus(
            400,
            "BadRequest",
            f"the object provided is unrecognized or does not match the endpoint: "
            f"expected {kind.api_version}/{kind.kind}, got "
            f"{body.get('apiVersion')}/{body.get('kind')}",
        )
    schema_errors = [
        f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in _validator(kind.kind, kind.api_version).iter_errors(body)
    ]
    problems = schema_errors or [
        *_check_metadata(body.get("metadata") or {}),
        *_KIND_CHECKS[kind.kind](body),
    ]
    if problems:
        name = (body.get("metadata") or {}).get("name")
        raise ApiStatus(
            422,
            "Invalid",
            f'{kind.kind} "{name}" is invalid: ' + "; ".join(problems),
            {
                "name": name,
                "group": kind.group,
                "kind": kind.kind,
                "causes": [{"message": problem} for problem in problems],
            },
        )


# ---------------------------------------------------------------------------- selectors

_REQUIREMENT = re.compile(
    r"^\s*(?:(?P<not>!)\s*(?P<absent>[^\s,=!()]+)"
    r"|(?P<key>[^\s,=!()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$"
)


def _split(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return [*parts, current] if selector else []


def label_filter(selector: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate for a label selector string; 400 for syntax the API server refuses."""
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for requirement in _split(selector):
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise ApiStatus(400, "BadRequest", f"unable to parse requirement: {requirement!r}")
        if match["absent"]:
            checks.append(lambda labels, k=match["absent"]: k not in labels)
        elif match["op"] in ("=", "=="):
            checks.append(lambda labels, k=match["key"], v=match["value"]: labels.get(k) == v)
        elif match["op"] == "!=":
            checks.append(lambda labels, k=match["key"], v=match["value"]: labels.get(k) != v)
        elif match["set"]:
            values = {v.strip() for v in match["values"].split(",")}
            inside = match["set"] == "in"
            checks.append(
                lambda labels, k=match["key"], vs=values, i=inside: (
                    (labels.get(k) in vs) == i and (k in labels or not i)
                )
            )
        else:
            checks.append(lambda labels, k=match["key"]: k in labels)
    return lambda labels: all(check(labels) for check in checks)


# ---------------------------------------------------------------------------- RBAC


@dataclass
class Rbac:
    """The rules of one namespaced Role; ``revoke`` takes a verb away (a 403 injection)."""

    rules: list[Json]
    subject: str = "system:serviceaccount:stratops:stratops-controller"
    revoked: set[tuple[str, str, str]] = field(default_factory=set)

    @classmethod
    def from_role(cls, role: Mapping[str, Any]) -> Rbac:
        return cls(rules=list(role.get("rules") or []))

    def granted(self) -> set[tuple[str, str, str]]:
        """Every (apiGroup, resource, verb) some rule allows."""
        return {
            (group, resource, verb)
            for rule in self.rules
            for group in rule.get("apiGroups") or []
            for resource in rule.get("resources") or []
            for verb in rule.get("verbs") or []
        }

    def allows(self, verb: str, group: str, plural: str, name: str | None) -> bool:
        if (group, plural, verb) in self.revoked:
            return False
        for rule in self.rules:
            names = rule.get("resourceNames") or []
            if (
                group in (rule.get("apiGroups") or [])
                and plural in (rule.get("resources") or [])
                and verb in (rule.get("verbs") or [])
                and (not names or (name is not None and name in names))
            ):
                return True
        return False

    def revoke(self, verb: str, group: str, plural: str) -> None:
        self.revoked.add((group, plural, verb))


# ---------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class Call:
    verb: str
    group: str
    resource: str
    namespace: str
    name: str | None
    status: int


@dataclass
class Fault:
    verb: str
    resource: str
    times: int
    status: int | None = None
    drop: bool = False
    delay: float = 0.0
    message: str = ""
    retry_after: int | None = None


@dataclass
class Hook:
    verb: str
    resource: str
    times: int
    run: Callable[[], None]


_FAULT_REASONS = {
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) closed its end: not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeApiServer:
    """An API server on ``127.0.0.1`` in a thread; use as a context manager."""

    def __init__(
        self,
        *,
        namespaces: Iterable[str] = ("stratops",),
        rbac: Rbac | None = None,
        token: str | None = None,
    ) -> None:
        self.namespaces = set(namespaces)
        self.rbac = rbac
        self.token = token
        self.calls: list[Call] = []
        self._objects: dict[tuple[str, str, str], Json] = {}
        self._unavailable: dict[tuple[str, str], tuple[str, str]] = {}
        self._faults: list[Fault] = []
        self._hooks: list[Hook] = []
        self._version = 0
        self._epoch = 0
        self._lock = threading.RLock()
        self._http = _HttpServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    # ------------------------------------------------------------------ test controls

    def inject(
        self,
        verb: str,
        resource: str,
        *,
        status: int | None = None,
        drop: bool = False,
        delay: float = 0.0,
        times: int = 1,
        message: str = "",
        retry_after: int | None = None,
    ) -> None:
        """The next ``times`` ``verb`` requests on ``resource`` fail (status or drop) or wait.

        ``retry_after``: the failure asks the client to wait, as a throttling API server does
        (``Retry-After`` header and the Status's ``details.retryAfterSeconds``).
        """
        fault = Fault(verb, resource, times, status, drop, delay, message, retry_after)
        with self._lock:
            self._faults.append(fault)

    def before(self, verb: str, resource: str, run: Callable[[], None], times: int = 1) -> None:
        """Run ``run`` just before the next ``times`` ``verb`` requests on ``resource``."""
        with self._lock:
            self._hooks.append(Hook(verb, resource, times, run))

    def barrier(self, verb: str, resource: str, parties: int) -> None:
        """Hold the next ``parties`` ``verb`` requests until all have arrived (a race)."""
        gate = threading.Barrier(parties, timeout=5)

        def wait() -> None:
            gate.wait()

        self.before(verb, resource, wait, times=parties)

    def compact(self) -> None:
        """Expire every outstanding continue token, as an etcd compaction does."""
        with self._lock:
            self._epoch += 1

    def get(self, resource: str, namespace: str, name: str) -> Json | None:
        with self._lock:
            found = self._objects.get((resource, namespace, name))
            return copy.deepcopy(found) if found else None

    def names(self, resource: str, namespace: str) -> list[str]:
        with self._lock:
            return sorted(n for (r, ns, n) in self._objects if r == resource and ns == namespace)

    def edit(
        self, resource: str, namespace: str, name: str, change: Callable[[Json], None]
    ) -> Json:
        """Change an object as ``kubectl edit`` would (new resourceVersion, status updated)."""
        with self._lock:
            current = self._objects[(resource, namespace, name)]
            edited = copy.deepcopy(current)
            change(edited)
            return self._store(BY_PLURAL[resource], namespace, edited, previous=current)

    def delete_by_hand(self, resource: str, namespace: str, name: str) -> None:
        with self._lock:
            del self._objects[(resource, namespace, name)]

    def set_unavailable(self, namespace: str, name: str, *, since: str, message: str) -> None:
        """The Deployment's pod crash-loops since ``since`` (the deployment controller's view)."""
        with self._lock:
            self._unavailable[(namespace, name)] = (since, message)
            stored = self._objects[("deployments", namespace, name)]
            self._store(KINDS[("apps", "deployments")], namespace, copy.deepcopy(stored), stored)

    def verbs_used(self) -> set[tuple[str, str, str]]:
        """(apiGroup, resource, verb) of every request that reached authorization."""
        with self._lock:
            return {(c.group, c.resource, c.verb) for c in self.calls}

    # ------------------------------------------------------------------ storage

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _store(self, kind: Kind, namespace: str, body: Json, previous: Json | None) -> Json:
        metadata = body.setdefault("metadata", {})
        metadata["namespace"] = namespace
        metadata["resourceVersion"] = self._next_version()
        if previous is None:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = _now()
        else:
            for key in ("uid", "creationTimestamp"):
                metadata[key] = previous["metadata"][key]
        if kind.kind == "Deployment":
            self._deployment_controller(namespace, body, previous)
        self._objects[(kind.plural, namespace, metadata["name"])] = body
        return copy.deepcopy(body)

    def _deployment_controller(self, namespace: str, body: Json, previous: Json | None) -> None:
        """Server-side defaults, generation, revision annotation and an instant status."""
        spec = body.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        )
        pod = spec["template"].setdefault("spec", {})
        pod.setdefault("restartPolicy", "Always")
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("schedulerName", "default-scheduler")
        pod.setdefault("securityContext", {})
        if "serviceAccountName" in pod:
            pod["serviceAccount"] = pod["serviceAccountName"]
        for container in pod.get("containers") or []:
            container.setdefault("imagePullPolicy", "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
        metadata = body["metadata"]
        revision_key = "deployment.kubernetes.io/revision"
        annotations = metadata.setdefault("annotations", {})
        if previous is None:
            metadata["generation"] = 1
            annotations[revision_key] = "1"
        else:
            old_spec = previous.get("spec")
            metadata["generation"] = previous["metadata"]["generation"] + (spec != old_spec)
            revision = int(previous["metadata"]["annotations"][revision_key])
            changed = spec["template"] != (old_spec or {}).get("template")
            annotations[revision_key] = str(revision + changed)
        replicas = spec["replicas"]
        crash = self._unavailable.get((namespace, metadata["name"]))
        status: Json = {
            "observedGeneration": metadata["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
        }
        if crash is None or replicas == 0:
            status.update({"readyReplicas": replicas, "availableReplicas": replicas})
            conditions = [
                (
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    _now(),
                ),
                (
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    "ReplicaSet has successfully progressed.",
                    _now(),
                ),
            ]
        else:
            since, message = crash
            status["unavailableReplicas"] = replicas
            conditions = [
                ("Available", "False", "MinimumReplicasUnavailable", message, since),
                ("Progressing", "False", "ProgressDeadlineExceeded", message, since),
            ]
        if replicas == 0:
            status = {k: v for k, v in status.items() if v != 0}
        status["conditions"] = [
            {
                "type": t,
                "status": s,
                "reason": r,
                "message": m,
                "lastTransitionTime": at,
                "lastUpdateTime": at,
            }
            for t, s, r, m, at in conditions
        ]
        body["status"] = status

    # ------------------------------------------------------------------ verbs

    def _not_found(self, kind: Kind, name: str) -> ApiStatus:
        return ApiStatus(
            404,
            "NotFound",
            f'{kind.qualified} "{name}" not found',
            {"name": name, "group": kind.group, "kind": kind.plural},
        )

    def _serve(
        self,
        verb: str,
        kind: Kind,
        namespace: str,
        name: str | None,
        query: Mapping[str, str],
        body: Json | None,
    ) -> tuple[int, Json]:
        with self._lock:
            if verb == "get":
                assert name is not None
                found = self._objects.get((kind.plural, namespace, name))
                if found is None:
                    raise self._not_found(kind, name)
                return 200, copy.deepcopy(found)
            if verb == "list":
                return 200, self._list(kind, namespace, query)
            if verb == "create":
                return 201, self._create(kind, namespace, body or {})
            if verb == "update":
                assert name is not None
                return 200, self._update(kind, namespace, name, body or {})
            if verb == "delete":
                assert name is not None
                if self._objects.pop((kind.plural, namespace, name), None) is None:
                    raise self._not_found(kind, name)
                return 200, {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": name, "group": kind.group, "kind": kind.plural},
                }
        raise ApiStatus(405, "MethodNotAllowed", f"{verb} is not supported by this fake")

    def _list(self, kind: Kind, namespace: str, query: Mapping[str, str]) -> Json:
        selected = label_filter(query.get("labelSelector", ""))
        items = sorted(
            (
                obj
                for (plural, ns, _), obj in self._objects.items()
                if plural == kind.plural
                and ns == namespace
                and selected((obj.get("metadata") or {}).get("labels") or {})
            ),
            key=lambda obj: obj["metadata"]["name"],
        )
        token = query.get("continue")
        if token:
            state = json.loads(base64.urlsafe_b64decode(token))
            if state["epoch"] != self._epoch:
                raise ApiStatus(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                )
            items = [obj for obj in items if obj["metadata"]["name"] > state["after"]]
        metadata: Json = {"resourceVersion": str(self._version)}
        limit = int(query.get("limit") or 0)
        if limit and len(items) > limit:
            items = items[:limit]
            state = {"epoch": self._epoch, "after": items[-1]["metadata"]["name"]}
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": metadata,
            "items": [copy.deepcopy(obj) for obj in items],
        }

    def _create(self, kind: Kind, namespace: str, body: Json) -> Json:
        if namespace not in self.namespaces:
            raise ApiStatus(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if (body.get("metadata") or {}).get("resourceVersion"):
            raise ApiStatus(
                500, "InternalError", "resourceVersion should not be set on objects to be created"
            )
        self._check_namespace(body, namespace)
        validate(kind, body)
        name = body["metadata"]["name"]
        if (kind.plural, namespace, name) in self._objects:
            raise ApiStatus(
                409,
                "AlreadyExists",
                f'{kind.qualified} "{name}" already exists',
                {"name": name, "group": kind.group, "kind": kind.plural},
            )
        return self._store(kind, namespace, copy.deepcopy(body), previous=None)

    def _update(self, kind: Kind, namespace: str, name: str, body: Json) -> Json:
        metadata = body.get("metadata") or {}
        if metadata.get("name") != name:
            raise ApiStatus(
                400,
                "BadRequest",
                f"the name of the object ({metadata.get('name')}) does not match the name on "
                f"the URL ({name})",
            )
        self._check_namespace(body, namespace)
        current = self._objects.get((kind.plural, namespace, name))
        if current is None:
            raise self._not_found(kind, name)
        version = metadata.get("resourceVersion")
        uid = metadata.get("uid")
        if (version and version != current["metadata"]["resourceVersion"]) or (
            uid and uid != current["metadata"]["uid"]
        ):
            raise ApiStatus(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has '
                "been modified; please apply your changes to the latest version and try again",
                {"name": name, "group": kind.group, "kind": kind.plural},
            )
        validate(kind, body)
        if (
            kind.kind == "Deployment"
            and body["spec"].get("selector") != current["spec"]["selector"]
        ):
            raise ApiStatus(
                422,
                "Invalid",
                f'Deployment.apps "{name}" is invalid: spec.selector: Invalid value: '
                "field is immutable",
            )
        stored = copy.deepcopy(body)
        stored.pop("status", None)
        return self._store(kind, namespace, stored, previous=current)

    @staticmethod
    def _check_namespace(body: Json, namespace: str) -> None:
        given = (body.get("metadata") or {}).get("namespace")
        if given and given != namespace:
            raise ApiStatus(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the "
                "request",
            )

    # ------------------------------------------------------------------ HTTP

    def _take(self, items: list[Any], verb: str, plural: str) -> Any:
        with self._lock:
            for item in items:
                if item.times > 0 and item.verb == verb and item.resource == plural:
                    item.times -= 1
                    return item
        return None

    def _forbidden(self, verb: str, kind: Kind, namespace: str, name: str | None) -> ApiStatus:
        subject = self.rbac.subject if self.rbac else "system:anonymous"
        target = f'{kind.qualified} "{name}"' if name else kind.qualified
        return ApiStatus(
            403,
            "Forbidden",
            f'{target} is forbidden: User "{subject}" cannot {verb} resource "{kind.plural}" '
            f'in API group "{kind.group}" in the namespace "{namespace}"',
            {"name": name or "", "group": kind.group, "kind": kind.plural},
        )

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], payload: bytes
    ) -> tuple[int, Json] | None:
        """Serve one request (``headers`` lower-cased): (status, JSON body), or None to drop
        the connection."""
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        match = _PATH.match(parts.path)
        group = "" if match is None or match["core"] else match["group"]
        kind = None if match is None else KINDS.get((group, match["plural"]))
        if match is None or kind is None:
            return 404, ApiStatus(
                404, "NotFound", "the server could not find the requested resource"
            ).body()
        namespace, name = match["namespace"], match["name"]
        verb = {"POST": "create", "PUT": "update", "DELETE": "delete", "PATCH": "patch"}.get(
            method, "get" if name else "list"
        )
        status, answer = self._answer(verb, kind, namespace, name, query, headers, payload)
        if status >= 0:
            with self._lock:
                self.calls.append(Call(verb, kind.group, kind.plural, namespace, name, status))
            return status, answer
        return None

    def _answer(
        self,
        verb: str,
        kind: Kind,
        namespace: str,
        name: str | None,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        payload: bytes,
    ) -> tuple[int, Json]:
        try:
            fault: Fault | None = self._take(self._faults, verb, kind.plural)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.drop:
                return -1, {}
            if fault is not None and fault.status is not None:
                reason = _FAULT_REASONS.get(fault.status, "InternalError")
                details = (
                    {} if fault.retry_after is None else {"retryAfterSeconds": fault.retry_after}
                )
                message = fault.message or f"injected {fault.status}"
                raise ApiStatus(fault.status, reason, message, details)
            hook: Hook | None = self._take(self._hooks, verb, kind.plural)
            if hook is not None:
                hook.run()
            if self.token and headers.get("authorization") != f"Bearer {self.token}":
                raise ApiStatus(401, "Unauthorized", "Unauthorized")
            if self.rbac and not self.rbac.allows(verb, kind.group, kind.plural, name):
                raise self._forbidden(verb, kind, namespace, name)
            body = None
            if verb in ("create", "update"):
                try:
                    body = json.loads(payload or b"null")
                except ValueError as exc:
                    raise ApiStatus(400, "BadRequest", f"invalid JSON: {exc}") from exc
                if not isinstance(body, dict):
                    raise ApiStatus(400, "BadRequest", "the body must be a JSON object")
            return self._serve(verb, kind, namespace, name, query, body)
        except ApiStatus as status:
            return status.code, status.body()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                result = server.handle(self.command, self.path, headers, payload)
                if result is None:
                    self.close_connection = True
                    return
                status, body = result
                data = json.dumps(body).encode()
                self.send_response(status)
                retry_after = (body.get("details") or {}).get("retryAfterSeconds")
                if body.get("kind") == "Status" and retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        return Handler
