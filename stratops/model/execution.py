"""A strategy version's execution parameters: how its deployments' orders become fills.

A version is registered with its evidence and, optionally, a configuration file
(``stratops register --config FILE``) whose ``execution`` section sets the paper engine's
execution costs for every deployment of the version: fees, square-root impact, participation
cap and latencies. A field left out keeps the engine's default
(:class:`stratops.paper.config.ExecutionConfig`, whose docstring gives each default's source).

The evidence was computed by its backtest at the costs that backtest simulated; a
configuration that makes orders pay more than that (a higher fee tier, a router with more
impact) is what a canary's analysis then measures against its thresholds. The registry records
the configuration's digest with the version and the gate report digests it with its context,
so a configuration changed after CI judged it no longer matches CI's report.

Example file::

    execution:
      takerFeeBps: 10          # Binance spot VIP 0
      impactCoefficient: 6     # a router that sweeps the book
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from stratops.model.base import Spec
from stratops.model.documents import validation_problems
from stratops.model.problems import Problem
from stratops.model.yaml_source import ParsedYaml

Bps = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]
Millis = Annotated[float, Field(gt=0, le=60_000, allow_inf_nan=False)]
Sigma = Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)]


class ExecutionSettings(Spec):
    """Execution parameters of a version; None: the engine's default."""

    order_type: Literal["market", "limit"] | None = Field(
        None, description="market (crosses the spread, taker fee) or limit (maker at the touch)."
    )
    maker_fee_bps: Annotated[float, Field(ge=-10, le=1000, allow_inf_nan=False)] | None = Field(
        None, description="Fee of a limit (maker) fill, bps of notional; a rebate is negative."
    )
    taker_fee_bps: Bps | None = Field(
        None, description="Fee of a market (taker) fill, bps of notional."
    )
    participation: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = Field(
        None, description="Largest fraction of a bar's traded volume filled in that bar."
    )
    impact_coefficient: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = Field(
        None, description="k of the square-root impact k * sigma * sqrt(Q / V)."
    )
    tick_to_order_median_ms: Millis | None = Field(
        None, description="Median tick-to-order latency (lognormal), ms."
    )
    tick_to_order_sigma: Sigma | None = Field(None, description="Its lognormal sigma.")
    order_to_venue_median_ms: Millis | None = Field(
        None, description="Median order-to-venue latency (lognormal), ms."
    )
    order_to_venue_sigma: Sigma | None = Field(None, description="Its lognormal sigma.")

    def given(self) -> dict[str, float | str]:
        """The fields set, by their YAML names (camelCase), in field order."""
        dumped: dict[str, float | str] = self.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        return dumped

    def to_json(self) -> str:
        """Compact JSON of the fields set: the ``paper run --execution`` argument."""
        return json.dumps(self.given(), sort_keys=True, separators=(",", ":"))


class VersionConfig(Spec):
    """``stratops register --config FILE``: what a version runs with besides its model."""

    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)


def version_config(parsed: ParsedYaml) -> VersionConfig | list[Problem]:
    """The configuration of a parsed file, or its problems (file, line, field, expectation)."""
    if not isinstance(parsed.data, dict):
        return [
            Problem(
                file=parsed.file,
                line=parsed.line_of(()),
                message=f"expected a mapping with an execution section, got "
                f"{type(parsed.data).__name__}",
                code="config.not_mapping",
            )
        ]
    try:
        return VersionConfig.model_validate_json(
            json.dumps(parsed.data), strict=True, by_alias=True, by_name=False
        )
    except ValidationError as exc:
        return validation_problems(parsed, exc, VersionConfig)


def execution_settings(text: str) -> ExecutionSettings:
    """Settings from their JSON (``paper run --execution``); ValueError naming the field."""
    try:
        return ExecutionSettings.model_validate_json(text, strict=True, by_alias=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "execution"
        raise ValueError(f"{where}: {first['msg']}") from exc
