"""``Runbook``: what an alert means and what to do, with steps that differ by market context.

The sections are those operators know: Meaning, Impact, Diagnosis, Mitigation. A step applies
in every context unless ``when`` names some (peak, normal or thin liquidity, a funding window,
a volatility shock): flatten now at peak, reduce-only and wait for liquidity when thin. A step
may carry a ``stratops`` command; ``stratops validate`` parses it against the CLI. Commands may
use the alert's labels as ``{strategy}``, ``{stage}``, ``{venue}``, ``{symbol}`` placeholders.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator

from stratops.model.base import Document, Spec


class Context(StrEnum):
    """Market contexts a step can be limited to: the liquidity regimes and the event overlays
    (the values of :class:`~stratops.model.analysis.Regime` and
    :class:`~stratops.model.alerts.Overlay`)."""

    PEAK = "peak"
    NORMAL = "normal"
    THIN = "thin"
    FUNDING_WINDOW = "funding_window"
    VOLATILITY_SHOCK = "volatility_shock"


Text = Annotated[str, Field(min_length=1, max_length=4000)]


class Step(Spec):
    do: Text = Field(description="What to do, for a person.")
    command: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None, description="A stratops command to run for this step (checked against the CLI)."
    )
    when: list[Context] = Field(
        default_factory=list, description="Contexts the step applies in; empty: every context."
    )

    @field_validator("command", mode="before")
    @classmethod
    def _no_null(cls, value: object) -> object:
        if value is None:
            raise ValueError(
                "expected a stratops command; leave the key out for a step without one"
            )
        return value

    def applies(self, context: Context) -> bool:
        return not self.when or context in self.when


class RunbookSpec(Spec):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    meaning: Text = Field(description="What the alert says is happening.")
    impact: Text = Field(description="What it costs the desk if nothing is done.")
    diagnosis: list[Step] = Field(min_length=1)
    mitigation: list[Step] = Field(min_length=1)


SECTIONS: tuple[Literal["diagnosis", "mitigation"], ...] = ("diagnosis", "mitigation")


class Runbook(Document):
    kind: Literal["Runbook"] = "Runbook"
    spec: RunbookSpec
