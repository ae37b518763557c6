"""A fake API server enforcing the controller's real Role, and a runtime against it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_apiserver import FakeApiServer, Rbac
from k8s_helpers import (
    NAMESPACE,
    TOKEN,
    FakeClock,
    configuration,
    role_document,
    runtime_config,
)
from pods import CREDENTIALS, s3_server

from stratops.runtime.kubernetes import KubernetesRuntime


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    rbac = Rbac.from_role(role_document())
    with FakeApiServer(namespaces={NAMESPACE}, rbac=rbac, token=TOKEN) as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def runtime(apiserver: FakeApiServer, clock: FakeClock, sleeps: list[float]) -> KubernetesRuntime:
    return KubernetesRuntime.from_configuration(
        configuration(apiserver.url), runtime_config(), clock=clock, sleep=sleeps.append
    )


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server with an empty bucket ``desk-telemetry``, credentials in the
    environment; its endpoint URL."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with s3_server() as endpoint:
        yield endpoint
