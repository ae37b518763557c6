"""The canary fields of an AnalysisTemplate: camelCase in YAML, defaults, clear refusals."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from stratops.model.analysis import AnalysisTemplate

RULE = {
    "metric": "slippage_bps",
    "condition": "max",
    "thresholds": {"peak": 4, "normal": 6, "thin": 12},
}


def parse(**spec: Any) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(
        {"kind": "AnalysisTemplate", "metadata": {"name": "t"}, "spec": {"metrics": [RULE], **spec}}
    )


def test_defaults_are_the_documented_ones() -> None:
    spec = parse().spec
    assert (spec.consecutive_error_limit, spec.min_duration, spec.min_passed) == (4, "24h", 3)
    assert (spec.inconclusive_deadline, spec.on_inconclusive, spec.steps) == ("24h", "hold", [])


def test_the_fields_read_from_yaml_in_camel_case() -> None:
    text = """
    minDuration: 48h
    minPassed: 6
    consecutiveErrorLimit: 2
    inconclusiveDeadline: 6h
    onInconclusive: rollback
    steps:
      - allocation: 10000
      - {allocation: 50000, minDuration: 72h}
    """
    spec = parse(**yaml.safe_load(text)).spec
    assert (spec.min_duration, spec.min_passed, spec.consecutive_error_limit) == ("48h", 6, 2)
    assert (spec.inconclusive_deadline, spec.on_inconclusive) == ("6h", "rollback")
    assert [(s.allocation, s.min_duration) for s in spec.steps] == [(10_000, None), (50_000, "72h")]
    dumped = parse(**yaml.safe_load(text)).model_dump(mode="json", by_alias=True)["spec"]
    assert {"minDuration", "minPassed", "consecutiveErrorLimit", "onInconclusive"} <= set(dumped)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"interval": "0s"}, "interval must be longer than 0s"),
        ({"inconclusiveDeadline": "0h"}, "inconclusiveDeadline must be longer than 0s"),
        ({"steps": [{"allocation": 5}, {"allocation": 5}]}, "steps must ramp the allocation up"),
        ({"steps": [{"allocation": 0}]}, "greater than 0"),
        ({"minPassed": 0}, "greater than or equal to 1"),
        ({"consecutiveErrorLimit": -1}, "greater than or equal to 0"),
        ({"onInconclusive": "promote"}, "'rollback' or 'hold'"),
        ({"minDuration": "a day"}, "expected a duration like 30m, 24h or 7d"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse(**spec)
