"""A version's configuration file: execution parameters, validated with file, line and field."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratops.model.execution import (
    ExecutionSettings,
    VersionConfig,
    execution_settings,
    version_config,
)
from stratops.model.yaml_source import parse_yaml
from stratops.paper.config import ExecutionConfig, OrderType


def _parsed(text: str) -> VersionConfig | list[str]:
    found = version_config(parse_yaml(text, "version.yaml"))
    return found if isinstance(found, VersionConfig) else [p.render() for p in found]


def test_a_valid_file_sets_only_what_it_names() -> None:
    found = _parsed("execution:\n  takerFeeBps: 10\n  impactCoefficient: 3\n")
    assert isinstance(found, VersionConfig)
    assert found.execution.given() == {"takerFeeBps": 10.0, "impactCoefficient": 3.0}
    assert _parsed("{}") == VersionConfig()  # nothing set: the engine's defaults


@pytest.mark.parametrize(
    ("text", "line", "field", "code"),
    [
        ("execution:\n  takerFeeBps: -1\n", 2, "execution.takerFeeBps", "greater_than_equal"),
        ("execution:\n  participation: 1.5\n", 2, "execution.participation", "less_than_equal"),
        ("execution:\n  participation: 0\n", 2, "execution.participation", "greater_than"),
        ("execution:\n  takerFee: 10\n", 2, "execution.takerFee", "extra_forbidden"),
        ('execution:\n  fee: 1\n  impactCoefficient: "3"\n', 3, "execution.impactCoefficient",
         "float_type"),
        ("execution:\n  orderType: twap\n", 2, "execution.orderType", "literal_error"),
        ("execution:\n  tickToOrderMedianMs: .nan\n", 2, "execution.tickToOrderMedianMs",
         "finite_number"),
        ("executions:\n  takerFeeBps: 1\n", 1, "executions", "extra_forbidden"),
    ],
)  # fmt: skip
def test_bad_values_name_the_file_line_and_field(
    text: str, line: int, field: str, code: str
) -> None:
    problems = _parsed(text)
    assert isinstance(problems, list) and problems, problems
    where = f"version.yaml:{line}: {field}:"
    assert any(p.startswith(where) and p.endswith(f"[schema.{code}]") for p in problems), problems


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    assert _parsed("- takerFeeBps\n") == [
        "version.yaml:1: expected a mapping with an execution section, got list "
        "[config.not_mapping]"
    ]


settings = st.builds(
    ExecutionSettings,
    order_type=st.none() | st.sampled_from(["market", "limit"]),
    maker_fee_bps=st.none() | st.floats(-10, 1000),
    taker_fee_bps=st.none() | st.floats(0, 1000),
    participation=st.none() | st.floats(0, 1, exclude_min=True),
    impact_coefficient=st.none() | st.floats(0, 100),
    tick_to_order_median_ms=st.none() | st.floats(0, 60_000, exclude_min=True),
    tick_to_order_sigma=st.none() | st.floats(0, 5),
    order_to_venue_median_ms=st.none() | st.floats(0, 60_000, exclude_min=True),
    order_to_venue_sigma=st.none() | st.floats(0, 5),
)


@given(settings)
def test_settings_round_trip_through_the_paper_run_argument(value: ExecutionSettings) -> None:
    assert execution_settings(value.to_json()) == value


@given(settings)
def test_the_engine_takes_each_field_set_and_keeps_its_default_for_the_others(
    value: ExecutionSettings,
) -> None:
    default = ExecutionConfig()
    applied = default.with_settings(value)
    flat = {**asdict(applied), **asdict(applied)["latency"]}
    defaults = {**asdict(default), **asdict(default)["latency"]}
    for name, given_value in value.model_dump().items():
        expected = defaults[name] if given_value is None else given_value
        assert flat[name] == expected, name
    assert isinstance(applied.order_type, OrderType)
    assert default.with_settings(None) == default


def test_a_bad_paper_run_argument_names_the_field() -> None:
    with pytest.raises(ValueError, match="takerFeeBps"):
        execution_settings('{"takerFeeBps": -1}')
    with pytest.raises(ValueError, match="slippage"):
        execution_settings('{"slippage": 1}')
