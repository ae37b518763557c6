"""Evidence as arrays: a verified bundle loaded into memory, what the gate checks read.

Loading (Parquet, JSON, hashing) is the registry's job; this is the value it hands over.
Optional columns are ``None`` when the bundle lacks them, which makes the checks that need
them inconclusive rather than failing with an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stratops.model.evidence import DataQuality, EvidenceMetadata

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Trades:
    timestamp: Ints
    symbol: NDArray[np.str_]
    quantity: Floats
    price: Floats
    decision_time: Ints | None = None
    data_time: Ints | None = None
    market_volume: Floats | None = None


@dataclass(frozen=True)
class EvidenceData:
    """A verified evidence bundle: digests and arrays (timestamps in UTC nanoseconds)."""

    digest: str
    file_digests: dict[str, str]
    metadata: EvidenceMetadata
    data_quality: DataQuality
    returns_timestamp: Ints
    returns_net: Floats
    returns_gross: Floats
    gross_exposure: Floats | None
    trades: Trades
    latency_ms: Floats
    trials_timestamp: Ints
    trials: Floats  # days x trials, daily net returns
