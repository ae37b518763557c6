"""Canonical JSON: the byte form that digests are computed over.

Sorted keys, no insignificant whitespace, ASCII only, and floats rounded to a fixed number of
significant digits so that the same inputs give the same bytes on any machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

SIGNIFICANT_DIGITS = 10


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
        rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
        return 0.0 if rounded == 0 else rounded
    if isinstance(value, Mapping):
        return {str(key): _normalise(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_normalise(item) for item in value]
    raise TypeError(f"cannot render {type(value).__name__} as canonical JSON")


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of a JSON-compatible value."""
    text = json.dumps(
        _normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_digest(value: Any) -> str:
    """sha256 of :func:`canonical_json`."""
    return sha256_hex(canonical_json(value))
