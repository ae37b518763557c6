"""How strategy Deployments look on a cluster: namespace, image, resources, environment.

One :class:`KubernetesRuntimeConfig` per controller; it is read from YAML (camelCase keys, as
in the rest of the desk) by whoever starts the controller, e.g. the ``runtime.yaml`` of the
controller's ConfigMap in ``manifests/deploy/``. Images and resources can differ per strategy
type: a market maker needs more CPU than a daily trend follower.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from stratops.model.base import DnsName
from stratops.retry import RetryPolicy


class _Config(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class Resources(_Config):
    """Container requests and limits, in Kubernetes quantities (``250m``, ``512Mi``)."""

    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "250m", "memory": "512Mi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"memory": "1Gi"})


class KubernetesRuntimeConfig(_Config):
    namespace: DnsName = "stratops"
    image: str = Field(min_length=1, description="Image with stratops installed.")
    images: dict[str, str] = Field(
        default_factory=dict, description="Image per strategy type, overriding ``image``."
    )
    default_resources: Resources = Field(default_factory=Resources)
    resources: dict[str, Resources] = Field(
        default_factory=dict, description="Resources per strategy type."
    )
    service_account: str | None = Field(
        None, description="Service account of strategy pods (they get no API token)."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment, e.g. MLFLOW_TRACKING_URI."
    )
    extra_args: tuple[str, ...] = Field(
        (), description="Appended to ``stratops paper run`` (e.g. --data, --speed)."
    )
    telemetry_claim: str | None = Field(
        None,
        description="PersistentVolumeClaim for telemetry (sub-path per deployment); "
        "without it telemetry goes to an emptyDir and dies with the pod.",
    )
    telemetry_bucket: str | None = Field(
        None,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
        description="S3-compatible bucket (and prefix) the pods' telemetry is kept in, e.g. "
        "s3://desk-telemetry/strategies, the store of MLflow's artifacts at scale; the "
        "controller reads a deployment's telemetry below it.",
    )
    telemetry_endpoint: str | None = Field(
        None, description="Endpoint URL of the S3-compatible store (None: AWS S3)."
    )
    telemetry_secret: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Secret whose keys become the strategy pods' environment: the store's "
        "credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), never in this file.",
    )
    run_as_user: int = Field(10001, ge=1, description="Non-root uid of strategy containers.")
    termination_grace_seconds: int = Field(
        60, ge=1, description="Time a stopped strategy gets to flush and checkpoint."
    )
    telemetry_sync_seconds: float = Field(
        2.0,
        ge=0,
        description="A deployment's telemetry mirror is synced at most once in this time (the "
        "readers of one tick share a sync).",
    )
    halt_ack_seconds: float = Field(
        120.0,
        ge=0,
        description="How long a halted pod has to acknowledge the halt in the telemetry bucket "
        "(a mounted ConfigMap reaches the pod within the kubelet's sync period, about a "
        "minute) before it is stopped instead.",
    )
    halt_wait_seconds: float = Field(
        8.0,
        ge=0,
        description="How long the halt call itself waits for the acknowledgement; later, the "
        "deployment is FAILED until acknowledged, and its restart stops it after "
        "halt_ack_seconds. Keep it under the leader's lease margin (a tick does not renew).",
    )
    halt_poll_seconds: float = Field(
        2.0, gt=0, description="Time between two reads of the pod's acknowledgement."
    )
    unavailable_after_seconds: float = Field(
        600.0, gt=0, description="A deployment without an available pod for longer is FAILED."
    )
    request_timeout_seconds: float = Field(10.0, gt=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    max_conflicts: int = Field(
        5, ge=1, description="Re-reads after 409 Conflict before giving up (retryable)."
    )
    page_size: int = Field(250, ge=1, description="Objects per list page.")

    def image_for(self, strategy_type: str) -> str:
        return self.images.get(strategy_type, self.image)

    def resources_for(self, strategy_type: str) -> Resources:
        return self.resources.get(strategy_type, self.default_resources)
