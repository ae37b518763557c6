"""``ReconciliationPolicy``: how the ledger is reconciled with the venue, and what a break does.

Tolerances say when two records agree, the settle window when a timing break is still only
late, the severities how bad each break class is, ``ageAfter`` when an open break is aged (and
escalates one severity level), ``halt`` which classes stop the deployment and
``blockPromotions`` whether open breaks block the strategy's promotions (the ``reconciliation``
gate check) and ``statements`` where the venue's statements are found.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from stratops.model.base import Document, Duration, Spec, duration_seconds

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class BreakClass(StrEnum):
    """What is wrong: the closed vocabulary of reconciliation breaks."""

    MISSING_INTERNAL = "missing_internal"  # the venue has it, the ledger does not
    MISSING_EXTERNAL = "missing_external"  # the ledger has it, the venue does not
    DUPLICATE = "duplicate"
    QUANTITY = "quantity"
    PRICE = "price"
    FEE = "fee"  # amount or asset
    FUNDING = "funding"
    POSITION_DRIFT = "position_drift"
    BALANCE_DRIFT = "balance_drift"
    ORDER_STATE = "order_state"
    EXTERNAL_ACTIVITY = "external_activity"  # manual trades, liquidations, transfers


TIMING_CLASSES: frozenset[BreakClass] = frozenset(
    {BreakClass.MISSING_INTERNAL, BreakClass.MISSING_EXTERNAL, BreakClass.FUNDING}
)


class Severity(StrEnum):
    """Best to worst; an aged break escalates one step (critical stays critical)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    def escalated(self) -> Severity:
        order = list(Severity)
        return order[min(order.index(self) + 1, len(order) - 1)]


DEFAULT_SEVERITIES: dict[BreakClass, Severity] = {
    BreakClass.MISSING_INTERNAL: Severity.CRITICAL,
    BreakClass.MISSING_EXTERNAL: Severity.CRITICAL,
    BreakClass.DUPLICATE: Severity.WARNING,
    BreakClass.QUANTITY: Severity.CRITICAL,
    BreakClass.PRICE: Severity.WARNING,
    BreakClass.FEE: Severity.INFO,
    BreakClass.FUNDING: Severity.WARNING,
    BreakClass.POSITION_DRIFT: Severity.CRITICAL,
    BreakClass.BALANCE_DRIFT: Severity.CRITICAL,
    BreakClass.ORDER_STATE: Severity.WARNING,
    BreakClass.EXTERNAL_ACTIVITY: Severity.CRITICAL,
}


class Tolerance(Spec):
    """Two amounts agree when ``|a - b| <= absolute + relative * |b|``."""

    absolute: NonNegative = 0.0
    relative: NonNegative = 0.0


class Tolerances(Spec):
    quantity: Tolerance = Field(
        default_factory=lambda: Tolerance(absolute=1e-9, relative=1e-9),
        description="Base units; also for positions.",
    )
    price_bps: NonNegative = Field(0.1, description="Largest price difference, basis points.")
    fee: Tolerance = Field(
        default_factory=lambda: Tolerance(absolute=1e-6, relative=1e-6),
        description="Fee amounts, in the fee's asset.",
    )
    balance: Tolerance = Field(
        default_factory=lambda: Tolerance(absolute=1e-6, relative=1e-9),
        description="Balances per asset; also for funding per symbol.",
    )
    match_window: Duration = Field(
        "2s",
        description="Fills without a common key match on (symbol, side, quantity, price) when "
        "their times are at most this far apart.",
    )


class ReconciliationPolicySpec(Spec):
    tolerances: Tolerances = Field(default_factory=Tolerances)
    settle_window: Duration = Field(
        "2m",
        description="A missing fill or funding payment younger than this is late, not a "
        "break: about twice the venue's reporting lag, or the funding interval.",
    )
    age_after: Duration = Field(
        "1h", description="An open break older than this is aged and escalates one severity."
    )
    severities: dict[BreakClass, Severity] = Field(
        default_factory=dict,
        description="Severity per break class; classes not named keep their defaults.",
    )
    halt: list[BreakClass] = Field(
        default_factory=list, description="Break classes that halt the deployment."
    )
    block_promotions: bool = Field(
        True, description="Open breaks block the strategy's promotions (gate reconciliation)."
    )
    statements: str = Field(
        ".stratops/statements",
        min_length=1,
        description="The venue side: the folder (relative to the desk root) where the desk's "
        "exchange adapter exports each deployment's statement, ccxt structures as JSON lines "
        "in <statements>/<strategy>--<stage>/ (trades.jsonl required).",
    )

    @model_validator(mode="after")
    def _unique_halt(self) -> ReconciliationPolicySpec:
        repeated = sorted({c.value for c in self.halt if self.halt.count(c) > 1})
        if repeated:
            raise ValueError(f"halt classes must be unique, repeated: {', '.join(repeated)}")
        return self

    def severity(self, kind: BreakClass) -> Severity:
        return self.severities.get(kind, DEFAULT_SEVERITIES[kind])

    @property
    def settle_seconds(self) -> float:
        return duration_seconds(self.settle_window)

    @property
    def age_seconds(self) -> float:
        return duration_seconds(self.age_after)


class ReconciliationPolicy(Document):
    kind: Literal["ReconciliationPolicy"] = "ReconciliationPolicy"
    spec: ReconciliationPolicySpec
