"""Values the Kubernetes tests share: a clock, client configuration, runtime config, specs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec
from stratops.model.strategy import HaltBehaviour
from stratops.retry import RetryPolicy
from stratops.runtime.k8s_config import KubernetesRuntimeConfig

DEPLOY = Path(__file__).resolve().parents[2] / "manifests" / "deploy"
NAMESPACE = "stratops"
LEASE = "stratops-controller"
TOKEN = "token-of-the-controller-service-account"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def role_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "20-role.yaml").read_text())
    return document


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def configuration(url: str, token: str | None = TOKEN) -> Any:
    config = client.Configuration(host=url)
    if token:
        config.api_key = {"BearerToken": token}
        config.api_key_prefix = {"BearerToken": "Bearer"}
    return config


def runtime_config(**changes: Any) -> KubernetesRuntimeConfig:
    values: dict[str, Any] = {
        "namespace": NAMESPACE,
        "image": "registry.example.com/desk/stratops:0.1.0",
        "env": {"MLFLOW_TRACKING_URI": "http://mlflow.stratops.svc:5000"},
        "retry": RetryPolicy(attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.05),
        "request_timeout_seconds": 2.0,
        "max_conflicts": 3,
        **changes,
    }
    return KubernetesRuntimeConfig(**values)


def make_spec(version: int = 7, **changes: Any) -> DeploymentSpec:
    values: dict[str, Any] = {
        "strategy": "btc-trend",
        "stage": Stage.CANARY,
        "version": version,
        "allocation": 50_000.0,
        "model_uri": f"models:/btc-trend/{version}",
        "strategy_type": "trend",
        "venue": "binance",
        "symbols": ("BTC/USDT",),
        "halt": HaltBehaviour.FLATTEN,
        "commit": "0" * 40,
        **changes,
    }
    return DeploymentSpec(**values)
