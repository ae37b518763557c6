"""MLflow-backed strategy registry: evidence bundles, trial counting, stage alias history.

The public surface: :class:`Registry` (the adapter), :func:`scan_bundle` (the bundle
validator), :func:`resolve_location` (where MLflow is), the returned models and the errors.
"""

from stratops.registry.bundle import scan_bundle
from stratops.registry.clock import Clock, WallClock
from stratops.registry.errors import (
    BadInput,
    BundleError,
    EvidenceMismatch,
    NotFound,
    RegistryError,
    RegistryUnavailable,
)
from stratops.registry.listing import DEFAULT_MAX_FILE_BYTES
from stratops.registry.location import RegistryLocation, resolve_location
from stratops.registry.models import (
    AliasChange,
    Bundle,
    BundleFacts,
    EvidenceReport,
    EvidenceSummary,
    Registration,
    StrategyVersion,
)
from stratops.registry.registry import RegistrationStep, Registry

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "AliasChange",
    "BadInput",
    "Bundle",
    "BundleError",
    "BundleFacts",
    "Clock",
    "EvidenceMismatch",
    "EvidenceReport",
    "EvidenceSummary",
    "NotFound",
    "Registration",
    "RegistrationStep",
    "Registry",
    "RegistryError",
    "RegistryLocation",
    "RegistryUnavailable",
    "StrategyVersion",
    "WallClock",
    "resolve_location",
    "scan_bundle",
]
