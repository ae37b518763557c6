"""Two controller replicas against one (fake) Kubernetes API server: only the leader acts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from desks import Desk
from kubernetes.client import ApiClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kubernetes"))

from fake_apiserver import FakeApiServer, Rbac
from k8s_helpers import LEASE, NAMESPACE, TOKEN, FakeClock, configuration, role_document
from k8s_helpers import runtime_config as k8s_runtime_config

from stratops.controller.assembly import build_reconciler
from stratops.controller.leader import LeaseElector
from stratops.controller.reconcile import Reconciler
from stratops.gitops.forge.select import ForgeKind
from stratops.model.deployment import DeploymentState
from stratops.runtime.k8s_objects import object_name
from stratops.runtime.kubernetes import KubernetesRuntime


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    rbac = Rbac.from_role(role_document())
    with FakeApiServer(namespaces={NAMESPACE}, rbac=rbac, token=TOKEN) as server:
        yield server


def replica(
    desk: Desk, folder: Path, apiserver: FakeApiServer, identity: str, clock: FakeClock
) -> tuple[Reconciler, LeaseElector, KubernetesRuntime]:
    if not folder.exists():
        desk.git("clone", "--quiet", desk.repo.remote_url(), str(folder))
    client = ApiClient(configuration(apiserver.url))
    runtime = KubernetesRuntime(client, k8s_runtime_config())
    elector = LeaseElector(client, NAMESPACE, LEASE, identity, clock=clock)
    reconciler = build_reconciler(
        folder,
        tracking_uri=desk.registry.location.tracking_uri,
        runtime=lambda _root, _registry: runtime,
        forge=ForgeKind.LOCAL,
        env={},
        is_leader=elector.is_leader,
    )
    return reconciler, elector, runtime


def test_only_the_leader_acts_and_a_standby_takes_over(
    desk: Desk, apiserver: FakeApiServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    a, lease_a, runtime = replica(desk, tmp_path / "a", apiserver, "replica-a", clock)
    b, lease_b, _ = replica(desk, tmp_path / "b", apiserver, "replica-b", clock)
    assert lease_a.try_acquire_or_renew() is True
    assert lease_b.try_acquire_or_renew() is False

    standby = b.tick()
    assert standby.applied == ()
    assert "lost leadership: stopped acting" in standby.problems
    leader = a.tick()
    assert [a.kind.value for a in leader.applied] == ["deploy", "set_alias"]
    (deployed,) = runtime.list()
    assert deployed.state is DeploymentState.RUNNING

    clock.advance(11)  # replica-a stops renewing: it stops acting before its lease expires
    assert lease_a.is_leader() is False
    assert lease_b.try_acquire_or_renew() is False  # not expired yet: no one takes over early
    clock.advance(5)
    assert lease_b.try_acquire_or_renew() is True
    name = object_name(deployed.spec.strategy, deployed.spec.stage)
    apiserver.delete_by_hand("deployments", NAMESPACE, name)
    assert a.tick().applied == ()  # the old leader stays quiet
    healed = b.tick()
    assert [x.kind.value for x in healed.applied] == ["deploy"]
    assert len(runtime.list()) == 1
