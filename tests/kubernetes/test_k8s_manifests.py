"""``manifests/deploy/``: valid Kubernetes objects, least privilege, a locked-down controller."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fake_apiserver import FakeApiServer, Rbac
from k8s_helpers import (
    DEPLOY,
    LEASE,
    NAMESPACE,
    FakeClock,
    configuration,
    make_spec,
    role_document,
    runtime_config,
)
from kubernetes import client
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.controller.leader import LeaseElector
from stratops.model.base import Stage
from stratops.runtime.k8s_config import KubernetesRuntimeConfig
from stratops.runtime.kubernetes import KubernetesRuntime

FILES = sorted(DEPLOY.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert len(documents) == 1, f"{path.name}: one object per file"
    document: dict[str, Any] = documents[0]
    return document


def by_kind() -> dict[str, dict[str, Any]]:
    return {load(path)["kind"]: load(path) for path in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_manifest_is_a_valid_kubernetes_object(path: Path) -> None:
    kubernetes_validate.validate(load(path), "1.30", strict=True)


def test_one_namespace_holds_the_controller() -> None:
    objects = by_kind()
    assert set(objects) == {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Service",
        "StatefulSet",
    }
    assert objects["Namespace"]["metadata"]["name"] == NAMESPACE
    assert FILES[0].name.startswith("00-")  # kubectl apply -f applies in name order
    for kind, obj in objects.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, kind
    binding = objects["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": objects["Role"]["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": objects["ServiceAccount"]["metadata"]["name"],
            "namespace": NAMESPACE,
        }
    ]


def test_role_grants_exactly_the_verbs_the_runtime_and_the_elector_call() -> None:
    """Every request of a full life cycle, under the Role: none refused, none left unused."""
    rbac = Rbac.from_role(role_document())
    clock = FakeClock()
    with FakeApiServer(namespaces={NAMESPACE}, rbac=rbac) as server:
        runtime = KubernetesRuntime.from_configuration(
            configuration(server.url), runtime_config(), clock=clock
        )
        elector = LeaseElector(
            client.ApiClient(configuration(server.url)), NAMESPACE, LEASE, "a", clock=clock
        )
        assert elector.try_acquire_or_renew()  # get, create
        runtime.deploy(make_spec(7), actor="controller", reason="declared")  # get, create
        runtime.list()  # list
        runtime.deploy(make_spec(8), actor="controller", reason="promoted")  # update
        runtime.halt("btc-trend", Stage.CANARY, actor="controller", reason="failed")
        runtime.remove("btc-trend", Stage.CANARY, actor="controller", reason="gone")  # delete
        clock.advance(5)
        assert elector.try_acquire_or_renew()  # update
        assert elector.release()
    assert [c for c in server.calls if c.status == 403] == []
    assert server.verbs_used() == rbac.granted()


def test_the_lease_is_the_only_one_the_elector_may_touch() -> None:
    rule = next(r for r in role_document()["rules"] if r.get("resourceNames"))
    assert rule["resourceNames"] == [LEASE]
    config_map = by_kind()["ConfigMap"]["data"]
    assert config_map["STRATOPS_LEASE_NAME"] == LEASE


def test_the_controller_statefulset_is_locked_down() -> None:
    statefulset = by_kind()["StatefulSet"]
    assert statefulset["spec"]["replicas"] == 2
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == by_kind()["ServiceAccount"]["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    assert container["command"] == ["stratops"]
    assert container["args"][:4] == ["controller", "run", "--runtime", "kubernetes"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert ports == {"metrics": 9090}
    args = container["args"]
    assert args[args.index("--listen") + 1] == f"0.0.0.0:{ports['metrics']}"
    usage = CliRunner().invoke(app, ["controller", "run", "--help"], env={"COLUMNS": "300"})
    for flag in (arg for arg in args if arg.startswith("--")):
        assert flag in usage.stdout, f"stratops controller run has no {flag}"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # The journal and state outlive the pod: a restarted leader finishes its pending intents.
    assert mounts["/var/lib/stratops"] not in volumes
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == mounts["/var/lib/stratops"]
    assert args[args.index("--state") + 1] == "/var/lib/stratops"


def test_the_headless_service_names_the_pods_and_serves_metrics() -> None:
    objects = by_kind()
    service, statefulset = objects["Service"], objects["StatefulSet"]
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["metrics"]


def test_the_runtime_configuration_in_the_config_map_loads() -> None:
    data = by_kind()["ConfigMap"]["data"]
    config = KubernetesRuntimeConfig.model_validate(yaml.safe_load(data["runtime.yaml"]))
    assert config.namespace == data["STRATOPS_NAMESPACE"] == NAMESPACE
    assert config.env["MLFLOW_TRACKING_URI"] == data["MLFLOW_TRACKING_URI"]
    assert config.resources_for("market_making").requests["cpu"] == "1"


def test_stratops_validate_skips_the_deploy_folder(example_manifests: Path, tmp_path: Path) -> None:
    desk = tmp_path / "manifests"
    shutil.copytree(example_manifests, desk)
    shutil.copytree(DEPLOY, desk / "deploy")
    result = CliRunner().invoke(app, ["validate", str(desk)])
    assert result.exit_code == 0, result.stderr
