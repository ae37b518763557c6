"""The controller's Kubernetes parts: the runtime and the Lease, from one API client.

In a pod (``KUBERNETES_SERVICE_HOST`` is set) the service account is used; elsewhere a
kubeconfig (``--kubeconfig``, ``$KUBECONFIG`` or ``~/.kube/config``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stratops.controller.leader import LeaseElector
from stratops.model.documents import validation_problems
from stratops.model.problems import InvalidDocumentError, Problem
from stratops.model.yaml_source import YamlError, parse_yaml
from stratops.runtime.k8s_api import api_client_from_kubeconfig, api_client_in_cluster
from stratops.runtime.k8s_config import KubernetesRuntimeConfig
from stratops.runtime.kubernetes import KubernetesRuntime


def read_runtime_config(path: Path) -> KubernetesRuntimeConfig:
    """A ``KubernetesRuntimeConfig`` from YAML, every problem named by file, line and field."""
    try:
        parsed = parse_yaml(path.read_bytes(), str(path))
    except OSError as exc:
        problem = Problem(file=str(path), message=f"cannot read: {exc}", code="file.unreadable")
        raise InvalidDocumentError([problem]) from exc
    except YamlError as exc:
        raise InvalidDocumentError([exc.problem]) from exc
    try:
        return KubernetesRuntimeConfig.model_validate(parsed.data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise InvalidDocumentError(
            validation_problems(parsed, exc, KubernetesRuntimeConfig)
        ) from exc


def api_client(kubeconfig: str | None) -> Any:
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return api_client_in_cluster()
    return api_client_from_kubeconfig(kubeconfig)


def kubernetes_parts(
    config: KubernetesRuntimeConfig,
    client: Any,
    lease_name: str,
    identity: str,
    telemetry_mirror: Path | None = None,
) -> tuple[KubernetesRuntime, LeaseElector]:
    """The runtime (mirroring the pods' telemetry into ``telemetry_mirror``) and the Lease."""
    runtime = KubernetesRuntime(client, config, telemetry_mirror=telemetry_mirror)
    elector = LeaseElector(client, config.namespace, lease_name, identity)
    return runtime, elector
