"""Shared building blocks of the Kubernetes-style documents.

Every document has ``apiVersion``, ``kind``, ``metadata`` and ``spec``. Field names are
camelCase in YAML (as in Kubernetes) and snake_case in Python.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

API_VERSION = "stratops.io/v1alpha1"

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_RULE = (
    "DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or "
    "digit, at most 63 characters"
)

DnsName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN),
    Field(description=DNS_LABEL_RULE + " (becomes Kubernetes object and branch names)."),
]

_DURATION_RE = re.compile(r"^(?P<value>\d+(\.\d+)?)(?P<unit>s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float:
    """Seconds in a duration such as ``90s``, ``30m``, ``24h``, ``7d`` or ``2w``."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"expected a duration like 30m, 24h or 7d, got {text!r}")
    return float(match["value"]) * _UNIT_SECONDS[match["unit"]]


def human_duration(seconds: float) -> str:
    """``1h 23m``, ``14s``, ``7d``: the two largest units, for people (never parsed back)."""
    if seconds != seconds:
        return "unknown"
    left = round(abs(seconds))
    if left == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return ("-" if seconds < 0 else "") + " ".join(parts[:2])


def _check_duration(text: str) -> str:
    duration_seconds(text)
    return text


Duration = Annotated[
    str,
    AfterValidator(_check_duration),
    Field(
        description="A duration: a number and a unit among s, m, h, d, w (e.g. 24h).",
        json_schema_extra={"pattern": _DURATION_RE.pattern},
    ),
]


class Stage(StrEnum):
    """Stages a strategy version runs in, in promotion order."""

    PAPER = "paper"
    CANARY = "canary"
    LIVE = "live"


STAGE_ORDER: tuple[Stage, ...] = (Stage.PAPER, Stage.CANARY, Stage.LIVE)


class StrategyType(StrEnum):
    """Families of strategies; gate policies and latency budgets are set per type."""

    MARKET_MAKING = "market_making"
    STAT_ARB = "stat_arb"
    TREND = "trend"
    CARRY = "carry"
    ARBITRAGE = "arbitrage"


class Spec(BaseModel):
    """Base of every spec-level model: camelCase aliases, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class Metadata(Spec):
    name: DnsName
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Document(Spec):
    """A Kubernetes-style document; subclasses narrow ``kind`` and type ``spec``."""

    api_version: Literal["stratops.io/v1alpha1"] = Field(
        "stratops.io/v1alpha1", description="Always stratops.io/v1alpha1."
    )
    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name
