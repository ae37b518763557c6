"""Pure builders of what one (strategy, stage) is made of on Kubernetes.

Each deployment is a ConfigMap (the strategy's configuration, read by the container through
``envFrom``) and a Deployment of the same name; a halted one also has a control ConfigMap
(``<name>-control``, key ``control.json``: the :class:`~stratops.paper.control.HaltCommand`),
mounted (optional, so the pod starts without it) at ``/control``, which the paper process reads
at every wake-up like a local process reads its control file. With a ``telemetryBucket`` the
container publishes its run folder below ``<bucket>/<name>/v<version>/`` after each flush
(``paper run --publish``). The Deployment carries, in annotations, the
full :class:`DeploymentSpec` as JSON (so ``list()`` rebuilds the status without any other
store) and a digest of the spec and the fields of the pod template stratops owns (so an edit by
hand is detected, see :mod:`stratops.runtime.k8s_state`). The pod template carries the digest of
the ConfigMap's data, so a configuration change rolls the pod like an image change.

The Deployment uses the ``Recreate`` strategy: two pods of one strategy must never trade at
the same time, which a rolling update would allow.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from stratops.model.base import DNS_LABEL_PATTERN, Stage
from stratops.model.canonical import canonical_digest
from stratops.model.deployment import DeploymentSpec
from stratops.paper.control import CONTROL_FILE, HaltCommand
from stratops.runtime.base import paper_arguments
from stratops.runtime.k8s_api import CONFIG_MAPS, DEPLOYMENTS, Json
from stratops.runtime.k8s_config import KubernetesRuntimeConfig

MAX_NAME = 63
MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY = "stratops"
SELECTOR = f"{MANAGED_BY_KEY}={MANAGED_BY}"
STRATEGY_KEY = "stratops.io/strategy"
STAGE_KEY = "stratops.io/stage"
VERSION_KEY = "stratops.io/version"

PREFIX = "stratops.io/"
SPEC_ANNOTATION = "stratops.io/spec"
TEMPLATE_DIGEST = "stratops.io/template-digest"
CONFIG_DIGEST = "stratops.io/config-digest"  # on the pod template
RESTARTED_AT = "stratops.io/restarted-at"  # on the pod template
DEPLOYED_BY = "stratops.io/deployed-by"
DEPLOY_REASON = "stratops.io/deploy-reason"
DEPLOYED_AT = "stratops.io/deployed-at"
HALTED_BY = "stratops.io/halted-by"
HALT_REASON = "stratops.io/halt-reason"
HALTED_AT = "stratops.io/halted-at"
HALT_MODE = "stratops.io/halt-mode"
HALT_COMMAND = "stratops.io/halt-command"  # the id of the command sent to the pod
HALT_STOPPED = "stratops.io/halt-stopped"  # why the halt scaled the pod to zero
HALT_ANNOTATIONS = (HALTED_BY, HALT_REASON, HALTED_AT, HALT_MODE, HALT_COMMAND, HALT_STOPPED)

CONTAINER = "strategy"
TELEMETRY_PATH = "/telemetry"
CONTROL_PATH = "/control"
CONTROL_SUFFIX = "control"
PROGRESS_DEADLINE_SECONDS = 600


class InvalidSpec(ValueError):
    """A spec that cannot become Kubernetes objects (a name that is not a DNS label)."""


def object_name(strategy: str, stage: Stage, suffix: str = "") -> str:
    """``<strategy>-<stage>[-<suffix>]``; a name over 63 characters keeps a prefix and a hash.

    >>> object_name("btc-trend", Stage.CANARY)
    'btc-trend-canary'
    >>> object_name("btc-trend", Stage.CANARY, CONTROL_SUFFIX)
    'btc-trend-canary-control'
    """
    if not re.fullmatch(DNS_LABEL_PATTERN, strategy) or len(strategy) > MAX_NAME:
        raise InvalidSpec(
            f"strategy name {strategy!r} is not a DNS label (lowercase letters, digits and "
            "'-', at most 63 characters): it cannot name a Kubernetes object"
        )
    tail = f"{stage.value}-{suffix}" if suffix else stage.value
    name = f"{strategy}-{tail}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(strategy.encode()).hexdigest()[:8]
    head = strategy[: MAX_NAME - len(tail) - len(digest) - 2].rstrip("-")
    return f"{head}-{digest}-{tail}"


def control_name(strategy: str, stage: Stage) -> str:
    """The control ConfigMap of a deployment."""
    return object_name(strategy, stage, CONTROL_SUFFIX)


def telemetry_uri(spec: DeploymentSpec, config: KubernetesRuntimeConfig) -> str | None:
    """``<telemetryBucket>/<object name>/v<version>``: where the version's pod publishes."""
    bucket = config.telemetry_bucket
    if bucket is None:
        return None
    return f"{bucket.rstrip('/')}/{object_name(spec.strategy, spec.stage)}/v{spec.version}"


def selector_labels(spec: DeploymentSpec) -> dict[str, str]:
    """Labels that identify a deployment; the Deployment selector (immutable) uses them."""
    return {MANAGED_BY_KEY: MANAGED_BY, STRATEGY_KEY: spec.strategy, STAGE_KEY: spec.stage.value}


def object_labels(spec: DeploymentSpec) -> dict[str, str]:
    return {
        **selector_labels(spec),
        VERSION_KEY: str(spec.version),
        "app.kubernetes.io/name": "stratops-strategy",
        "app.kubernetes.io/instance": object_name(spec.strategy, spec.stage),
    }


def config_data(spec: DeploymentSpec) -> dict[str, str]:
    """The strategy's configuration as the container's environment."""
    return {
        "STRATOPS_STRATEGY": spec.strategy,
        "STRATOPS_STAGE": spec.stage.value,
        "STRATOPS_VERSION": str(spec.version),
        "STRATOPS_MODEL_URI": spec.model_uri,
        "STRATOPS_ALLOCATION": repr(spec.allocation),
        "STRATOPS_STRATEGY_TYPE": spec.strategy_type,
        "STRATOPS_VENUE": spec.venue,
        "STRATOPS_SYMBOLS": ",".join(spec.symbols),
        "STRATOPS_HALT": spec.halt.value,
        "STRATOPS_COMMIT": spec.commit,
    }


def config_digest(data: Mapping[str, Any]) -> str:
    return canonical_digest(dict(data))


def build_config_map(spec: DeploymentSpec, config: KubernetesRuntimeConfig) -> Json:
    return {
        "apiVersion": CONFIG_MAPS.api_version,
        "kind": CONFIG_MAPS.kind,
        "metadata": {
            "name": object_name(spec.strategy, spec.stage),
            "namespace": config.namespace,
            "labels": object_labels(spec),
        },
        "data": config_data(spec),
    }


def build_control_map(
    strategy: str, stage: Stage, command: HaltCommand, config: KubernetesRuntimeConfig
) -> Json:
    """The control ConfigMap carrying ``command`` to the deployment's pod."""
    return {
        "apiVersion": CONFIG_MAPS.api_version,
        "kind": CONFIG_MAPS.kind,
        "metadata": {
            "name": control_name(strategy, stage),
            "namespace": config.namespace,
            "labels": {
                MANAGED_BY_KEY: MANAGED_BY,
                STRATEGY_KEY: strategy,
                STAGE_KEY: stage.value,
                "app.kubernetes.io/name": "stratops-control",
            },
        },
        "data": {CONTROL_FILE: command.model_dump_json()},
    }


def paper_args(spec: DeploymentSpec, config: KubernetesRuntimeConfig) -> list[str]:
    """Arguments of ``stratops``: the same paper engine the local runtime runs."""
    uri = telemetry_uri(spec, config)
    publish = [] if uri is None else ["--publish", uri]
    if uri is not None and config.telemetry_endpoint is not None:
        publish += ["--publish-endpoint", config.telemetry_endpoint]
    return [
        "paper",
        "run",
        *paper_arguments(spec),
        "--telemetry",
        TELEMETRY_PATH,
        "--control",
        f"{CONTROL_PATH}/{CONTROL_FILE}",
        *publish,
        *config.extra_args,
    ]


def fingerprint(template: Mapping[str, Any]) -> Json:
    """The fields of a pod template stratops owns and the API server never rewrites.

    Defaults the server adds (pull policy, termination message path, normalised resource
    quantities) are left out, so a template read back is not mistaken for an edit.
    """
    metadata = template.get("metadata") or {}
    pod = template.get("spec") or {}
    return {
        "configDigest": (metadata.get("annotations") or {}).get(CONFIG_DIGEST),
        "serviceAccountName": pod.get("serviceAccountName"),
        "containers": [
            {
                "name": container.get("name"),
                "image": container.get("image"),
                "command": container.get("command") or [],
                "args": container.get("args") or [],
                "env": [[e.get("name"), e.get("value")] for e in container.get("env") or []],
                "envFrom": [
                    (source.get("configMapRef") or {}).get("name")
                    or f"secret/{(source.get('secretRef') or {}).get('name')}"
                    for source in container.get("envFrom") or []
                ],
            }
            for container in pod.get("containers") or []
        ],
    }


def template_digest(spec_json: str, template: Mapping[str, Any]) -> str:
    """Digest of the stored spec and the owned template fields: any edit of either changes it."""
    return canonical_digest({"spec": spec_json, "template": fingerprint(template)})


def _volumes(spec: DeploymentSpec, config: KubernetesRuntimeConfig) -> list[Json]:
    telemetry: Json = (
        {"persistentVolumeClaim": {"claimName": config.telemetry_claim}}
        if config.telemetry_claim
        else {"emptyDir": {}}
    )
    control = {"name": control_name(spec.strategy, spec.stage), "optional": True}
    return [
        {"name": "telemetry", **telemetry},
        {"name": "control", "configMap": control},
        {"name": "tmp", "emptyDir": {}},
    ]


def _telemetry_mount(spec: DeploymentSpec, config: KubernetesRuntimeConfig) -> Json:
    mount: Json = {"name": "telemetry", "mountPath": TELEMETRY_PATH}
    if config.telemetry_claim:
        mount["subPath"] = f"{object_name(spec.strategy, spec.stage)}/v{spec.version}"
    return mount


def _pod_template(spec: DeploymentSpec, config: KubernetesRuntimeConfig, digest: str) -> Json:
    resources = config.resources_for(spec.strategy_type)
    container: Json = {
        "name": CONTAINER,
        "image": config.image_for(spec.strategy_type),
        "command": ["stratops"],
        "args": paper_args(spec, config),
        "envFrom": [
            {"configMapRef": {"name": object_name(spec.strategy, spec.stage)}},
            *(
                [{"secretRef": {"name": config.telemetry_secret}}]
                if config.telemetry_secret
                else []
            ),
        ],
        "env": [{"name": key, "value": value} for key, value in sorted(config.env.items())],
        "resources": {"requests": dict(resources.requests), "limits": dict(resources.limits)},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            _telemetry_mount(spec, config),
            {"name": "control", "mountPath": CONTROL_PATH, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod: Json = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": config.termination_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": config.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": _volumes(spec, config),
    }
    if config.service_account:
        pod["serviceAccountName"] = config.service_account
    return {
        "metadata": {"labels": object_labels(spec), "annotations": {CONFIG_DIGEST: digest}},
        "spec": pod,
    }


def build_deployment(
    spec: DeploymentSpec,
    config: KubernetesRuntimeConfig,
    *,
    actor: str,
    reason: str,
    at: datetime,
) -> Json:
    """The Deployment running ``spec`` (one replica), with who deployed it, why and when."""
    spec_json = spec.model_dump_json()
    template = _pod_template(spec, config, config_digest(config_data(spec)))
    return {
        "apiVersion": DEPLOYMENTS.api_version,
        "kind": DEPLOYMENTS.kind,
        "metadata": {
            "name": object_name(spec.strategy, spec.stage),
            "namespace": config.namespace,
            "labels": object_labels(spec),
            "annotations": {
                SPEC_ANNOTATION: spec_json,
                TEMPLATE_DIGEST: template_digest(spec_json, template),
                DEPLOYED_BY: actor,
                DEPLOY_REASON: reason,
                DEPLOYED_AT: at.isoformat(),
            },
        },
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(spec)},
            "template": template,
        },
    }


def halt_annotations(command: HaltCommand, at: str) -> dict[str, str]:
    """Who halted a deployment, why, when, with which mode and command."""
    return {
        HALTED_BY: command.by,
        HALT_REASON: command.reason,
        HALTED_AT: at,
        HALT_MODE: command.mode.value,
        HALT_COMMAND: command.id,
    }


def with_halt(body: Mapping[str, Any], notes: Mapping[str, str]) -> Json:
    """``body`` with the halt annotations ``notes``: one replica, the pod keeps running in the
    halt's mode, unless ``notes`` say the halt stopped it (zero)."""
    halted = copy.deepcopy(dict(body))
    annotations = halted["metadata"].setdefault("annotations", {})
    for key in HALT_ANNOTATIONS:
        annotations.pop(key, None)
    annotations.update({k: v for k, v in notes.items() if k in HALT_ANNOTATIONS})
    halted["spec"]["replicas"] = 0 if halt_stops(annotations) else 1
    return halted


def halt_stops(notes: Mapping[str, str]) -> bool:
    """The halt in ``notes`` scaled the pod to zero: it said so, or it predates the control
    channel (no command id)."""
    return HALTED_AT in notes and (HALT_STOPPED in notes or HALT_COMMAND not in notes)


def with_restart(body: Mapping[str, Any], at: datetime) -> Json:
    """``body`` with a pod template annotation that makes Kubernetes roll the pod."""
    restarted = copy.deepcopy(dict(body))
    template = restarted["spec"]["template"]["metadata"]
    template.setdefault("annotations", {})[RESTARTED_AT] = at.isoformat()
    return restarted
