"""The one place stratops talks HTTP to a Kubernetes API server: plain JSON in, plain JSON out.

The runtime and the leader elector share this transport. It uses the official client's
:class:`kubernetes.client.ApiClient` (its configuration, credentials, TLS and token refresh)
but not the typed models: those re-serialise a Lease's ``renewTime`` without fractional
seconds, which a real API server's ``RFC3339Micro`` parser refuses, and they coerce whole
objects through their own validation. Bodies here are the exact JSON the pure builders made,
and responses the exact JSON the server sent, so drift detection sees what the server holds.

Errors, by what the caller can do about them::

    ApiError                 every failure; ``verb``/``resource``/``namespace`` say of what
    ├── transient            status 0 (unreachable, timeout, dropped connection), 429, 5xx:
    │                        :func:`retry_decision` retries them (:mod:`stratops.retry`)
    └── anything else        403 forbidden, 404, 409 conflict, 410 gone, 422 invalid: the
                             caller decides (re-read, relist, or report)

Vendor exceptions (``ApiException``, urllib3 errors) never leave this module.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from stratops.retry import Retry, retry_after_seconds

Json = dict[str, Any]

UNREACHABLE = 0  # ``ApiError.status`` when no HTTP response came back


@dataclass(frozen=True)
class Resource:
    """A namespaced API resource: where it lives and what RBAC calls it."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps``, ``configmaps``: the name RBAC messages use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str, name: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        collection = f"{prefix}/namespaces/{namespace}/{self.plural}"
        return collection if name is None else f"{collection}/{name}"


DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")

_VERBS = {"POST": "create", "PUT": "update", "DELETE": "delete"}


class ApiError(Exception):
    """A failed API call, with what was attempted and what the server said."""

    def __init__(
        self,
        *,
        status: int,
        reason: str,
        message: str,
        verb: str,
        resource: Resource,
        namespace: str,
        name: str | None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.retry_after = retry_after  # seconds a 429/503 asked to wait (Retry-After)
        target = resource.qualified + (f" {name}" if name else "")
        super().__init__(f"{verb} {target} in namespace {namespace}: {status} {reason}: {message}")

    @property
    def transient(self) -> bool:
        """The same call may succeed later: unreachable, throttled or a server-side error."""
        return self.status == UNREACHABLE or self.status == 429 or self.status >= 500


def retry_decision(outcome: object) -> Retry | None:
    """Retry transient :class:`ApiError` (with the wait a 429 or 503 asked for); else final."""
    if isinstance(outcome, ApiError) and outcome.transient:
        return Retry(after=outcome.retry_after)
    return None


def _status_body(raw: str | None) -> tuple[str | None, str | None]:
    """(reason, message) of a Kubernetes ``Status`` body, when the body is one."""
    try:
        document = json.loads(raw or "")
    except ValueError:
        return None, (raw or "").strip()[:300] or None
    if not isinstance(document, dict):
        return None, None
    reason, message = document.get("reason"), document.get("message")
    return (
        reason if isinstance(reason, str) else None,
        message if isinstance(message, str) else None,
    )


class KubeApi:
    """Namespaced get/list/create/update/delete of JSON objects over an ``ApiClient``."""

    def __init__(self, api_client: Any, *, timeout_seconds: float = 10.0) -> None:
        self.api_client = api_client
        self.timeout_seconds = timeout_seconds

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def _call(
        self,
        method: str,
        resource: Resource,
        namespace: str,
        name: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> Json:
        verb = _VERBS.get(method) or ("get" if name else "list")

        def error(
            status: int, reason: str, message: str, retry_after: float | None = None
        ) -> ApiError:
            return ApiError(
                status=status,
                reason=reason,
                message=message,
                verb=verb,
                resource=resource,
                namespace=namespace,
                name=name,
                retry_after=retry_after,
            )

        try:
            request = self.api_client.param_serialize(
                method=method,
                resource_path=resource.path(namespace, name),
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=dict(body) if body is not None else None,
                auth_settings=["BearerToken"],
            )
            response = self.api_client.call_api(
                *request, _request_timeout=(self.timeout_seconds, self.timeout_seconds)
            )
            response.read()
            data = response.data
        except ApiException as exc:  # status 0: TLS failure or an unpreparable request
            raise error(exc.status or UNREACHABLE, str(exc.reason), str(exc.reason)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise error(UNREACHABLE, "Unreachable", f"{self.host}: {exc}") from exc
        if not 200 <= response.status <= 299:
            reason, message = _status_body(data.decode("utf-8", errors="replace"))
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise error(response.status, reason or str(response.reason), message or "", retry_after)
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise error(502, "BadResponse", f"{self.host} answered non-JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise error(502, "BadResponse", f"{self.host} answered a non-object")
        return document

    def get(self, resource: Resource, namespace: str, name: str) -> Json | None:
        """The object, or None when it does not exist."""
        try:
            return self._call("GET", resource, namespace, name)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def list(
        self,
        resource: Resource,
        namespace: str,
        *,
        label_selector: str,
        limit: int,
        continue_token: str | None = None,
    ) -> Json:
        query: dict[str, str | int] = {"labelSelector": label_selector, "limit": limit}
        if continue_token:
            query["continue"] = continue_token
        return self._call("GET", resource, namespace, query=query)

    def create(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> Json:
        return self._call("POST", resource, namespace, body=body)

    def update(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> Json:
        """PUT ``body``; the server refuses it (409) when its resourceVersion is stale."""
        return self._call("PUT", resource, namespace, body["metadata"]["name"], body=body)

    def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        """Delete with foreground propagation; False when there was nothing to delete."""
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground"}
        try:
            self._call("DELETE", resource, namespace, name, body=options)
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True


class KubeConfigError(Exception):
    """No usable Kubernetes configuration (no kubeconfig, not in a cluster)."""


def api_client_from_kubeconfig(path: str | None = None, context: str | None = None) -> Any:
    """An ``ApiClient`` from a kubeconfig file (``$KUBECONFIG`` or ``~/.kube/config``)."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError) as exc:
        raise KubeConfigError(f"cannot load kubeconfig {path or '(default)'}: {exc}") from exc
    return api_client_from_configuration(configuration)


def api_client_in_cluster() -> Any:
    """An ``ApiClient`` with the pod's service account (token refreshed as it rotates)."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException as exc:
        raise KubeConfigError(f"not running in a Kubernetes pod: {exc}") from exc
    return api_client_from_configuration(configuration)


def api_client_from_configuration(configuration: Any) -> Any:
    """An ``ApiClient`` for a ``kubernetes.client.Configuration`` (kubeconfig, pod or a URL).

    urllib3's own retries are switched off (a copy of ``configuration`` is changed): by default
    it repeats failed connections and sleeps through any ``Retry-After``, unbounded, inside
    one call. Retrying is :func:`retry_decision` under the runtime's policy, and only there.
    """
    configuration = copy.deepcopy(configuration)
    configuration.retries = False
    return k8s_client.ApiClient(configuration)
