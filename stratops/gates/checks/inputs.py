"""The bundle of values every check function receives."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from stratops.analytics.returns import daily_returns
from stratops.gates.context import GateContext
from stratops.model.evidence_data import EvidenceData, Floats
from stratops.model.policy import GatePolicySpec


@dataclass(frozen=True)
class GateInputs:
    evidence: EvidenceData
    context: GateContext
    policy: GatePolicySpec

    @cached_property
    def daily(self) -> Floats:
        """Daily net returns of the strategy: the frequency statistics are computed at."""
        return daily_returns(self.evidence.returns_timestamp, self.evidence.returns_net).returns

    @cached_property
    def trial_matrix(self) -> Floats:
        return np.asarray(self.evidence.trials, dtype=np.float64)
