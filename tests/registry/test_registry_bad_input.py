"""Every class of bad input is refused with a clear message, and nothing is registered."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from bundles import (
    assert_nothing_registered,
    edit_json,
    edit_parquet,
    replace_column,
    retimed,
    shifted_timestamps,
    with_value,
)

from stratops.analytics.returns import utc_day
from stratops.model.base import StrategyType
from stratops.registry import BundleError, Registry, RegistryError, scan_bundle
from stratops.registry.listing import unsafe_name_reason
from stratops.registry.synthetic import write_synthetic_bundle


@dataclass(frozen=True)
class Case:
    id: str
    damage: Callable[[Path], Any]
    code: str
    fragment: str
    options: dict[str, Any] = field(default_factory=dict)


def _swap(ns: np.ndarray) -> np.ndarray:
    ns[[10, 11]] = ns[[11, 10]]
    return ns


def _repeat(ns: np.ndarray) -> np.ndarray:
    ns[11] = ns[10]
    return ns


def _symlink(bundle: Path) -> None:
    outside = bundle.parent / "elsewhere.parquet"
    shutil.move(bundle / "returns.parquet", outside)
    (bundle / "returns.parquet").symlink_to(outside)


def _gap_day_in_returns(bundle: Path) -> None:
    """Five days of returns without the third day; the trials still have that day."""
    write_synthetic_bundle(bundle, return_rows=5 * 1440)

    def drop_day(table: pa.Table) -> pa.Table:
        days = utc_day(table.column("timestamp").cast(pa.int64()).to_numpy())
        return table.filter(pa.array(days != days.min() + 2))

    edit_parquet(bundle / "returns.parquet", drop_day)


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda bundle: (bundle / name).write_text(text)


CASES = [
    Case(
        "missing file", lambda b: (b / "trades.parquet").unlink(), "bundle.missing_file", "missing"
    ),
    Case("unexpected file", _write("notes.txt", "hi"), "bundle.unexpected_file", "unexpected file"),
    Case("user manifest", _write("manifest.json", "{}"), "bundle.unexpected_file", "never trusted"),
    Case("subfolder", lambda b: (b / "extra").mkdir(), "bundle.subfolder", "subfolder"),
    Case("symlink", _symlink, "bundle.symlink", "symlink"),
    Case("dotdot name", _write("..returns.parquet", "x"), "bundle.unsafe_name", "'..'"),
    Case(
        "file over the size limit",
        lambda b: None,
        "bundle.too_large",
        "over the limit of 20,000",
        {"max_file_bytes": 20_000},
    ),
    Case(
        "metadata schema",
        lambda b: edit_json(b / "metadata.json", lambda d: d.pop("venue")),
        "bundle.schema.missing",
        "venue: required field is missing",
    ),
    Case("invalid JSON", _write("metadata.json", "{not json"), "bundle.invalid_json", "not valid"),
    Case(
        "NaN in JSON",
        _write("data_quality.json", '{"maxStalenessSeconds": NaN}'),
        "bundle.invalid_json",
        "NaN is not valid JSON",
    ),
    Case(
        "overflowing number in JSON",
        _write("data_quality.json", '{"maxStalenessSeconds": 1e999}'),
        "bundle.invalid_json",
        "overflows to infinity",
    ),
    Case(
        "naive data range",
        lambda b: edit_json(
            b / "metadata.json", lambda d: d["dataRange"].update(start="2024-01-01T00:00:00")
        ),
        "bundle.non_utc_timestamp",
        "dataRange.start: expected an ISO 8601 time in UTC",
    ),
    Case(
        "data quality schema",
        lambda b: edit_json(b / "data_quality.json", lambda d: d.update(gaps=-1)),
        "bundle.schema.greater_than_equal",
        "gaps",
    ),
    Case("not Parquet", _write("latency.parquet", "garbage"), "bundle.invalid_parquet", "Parquet"),
    Case(
        "missing column",
        lambda b: edit_parquet(b / "returns.parquet", lambda t: t.drop_columns(["net"])),
        "bundle.missing_column",
        "net: required float column is missing",
    ),
    Case(
        "wrong dtype",
        lambda b: edit_parquet(
            b / "returns.parquet",
            lambda t: replace_column(t, "gross", pa.array(np.arange(t.num_rows))),
        ),
        "bundle.wrong_dtype",
        "expected a float column (double), got int64",
    ),
    Case(
        "NaN return",
        lambda b: edit_parquet(b / "returns.parquet", lambda t: with_value(t, "net", 7, np.nan)),
        "bundle.non_finite",
        "1 value(s) are null, NaN or infinite, first at row 7",
    ),
    Case(
        "infinite trial return",
        lambda b: edit_parquet(
            b / "trials.parquet", lambda t: with_value(t, "trial_0003", 1, np.inf)
        ),
        "bundle.non_finite",
        "trial_0003",
    ),
    Case(
        "unsorted timestamps",
        lambda b: edit_parquet(b / "returns.parquet", lambda t: shifted_timestamps(t, _swap)),
        "bundle.unsorted_timestamp",
        "not sorted",
    ),
    Case(
        "duplicate timestamps",
        lambda b: edit_parquet(b / "returns.parquet", lambda t: shifted_timestamps(t, _repeat)),
        "bundle.duplicate_timestamp",
        "1 duplicate timestamp(s), first at row 11",
    ),
    Case(
        "naive timestamps",
        lambda b: edit_parquet(b / "returns.parquet", lambda t: retimed(t, pa.timestamp("ns"))),
        "bundle.naive_timestamp",
        "naive",
    ),
    Case(
        "other time zone",
        lambda b: edit_parquet(
            b / "trials.parquet", lambda t: retimed(t, pa.timestamp("ns", "Europe/Paris"))
        ),
        "bundle.non_utc_timestamp",
        "Europe/Paris",
    ),
    Case(
        "unknown strategy type",
        lambda b: edit_json(b / "metadata.json", lambda d: d.update(strategyType="momentum")),
        "bundle.unknown_strategy_type",
        "unknown strategy type 'momentum'",
    ),
    Case(
        "type differs from --type",
        lambda b: None,
        "bundle.type_mismatch",
        "--type is 'carry'",
        {"strategy_type": StrategyType.CARRY},
    ),
    Case(
        "trials end before returns",
        lambda b: edit_parquet(b / "trials.parquet", lambda t: t.slice(0, t.num_rows - 1)),
        "bundle.trials_dates",
        "first and last dates must match",
    ),
    Case(
        "trial date without returns",
        _gap_day_in_returns,
        "bundle.trials_dates",
        "1 trial date(s) without returns: 2024-01-03",
    ),
    Case(
        "two trials rows on one date",
        lambda b: edit_parquet(
            b / "trials.parquet",
            lambda t: shifted_timestamps(t, lambda ns: np.r_[ns[0] - 3600 * 10**9, ns[0], ns[2:]]),
        ),
        "bundle.trials_not_daily",
        "share a UTC date",
    ),
    Case(
        "trial columns differ from metadata",
        lambda b: edit_parquet(b / "trials.parquet", lambda t: t.drop_columns(["trial_0009"])),
        "bundle.trials_count",
        "9 trial column(s) but metadata.json declares trials: 10",
    ),
    Case(
        "trade side",
        lambda b: edit_parquet(
            b / "trades.parquet",
            lambda t: replace_column(t, "side", pa.array(["hold"] * t.num_rows)),
        ),
        "bundle.out_of_range",
        "neither 'buy' nor 'sell'",
    ),
    Case(
        "no model",
        lambda b: None,
        "registry.model_required",
        "exactly one of --model",
        {"model_path": None},
    ),
    Case(
        "model folder without MLmodel",
        lambda b: None,
        "registry.not_a_model",
        "not an MLflow model folder",
        {"model_path": Path("/")},
    ),
    Case(
        "code sha differs from metadata",
        lambda b: None,
        "registry.code_sha_mismatch",
        "differs from metadata.json codeCommit",
        {"code_sha": "0" * 40},
    ),
    Case(
        "bad model URI",
        lambda b: None,
        "registry.bad_model_uri",
        "expected runs:/",
        {"model_path": None, "model_uri": "s3://bucket/model"},
    ),
]


def _codes(exc: RegistryError) -> set[str]:
    return {p.code for p in exc.problems} if isinstance(exc, BundleError) else {exc.code}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_registers_nothing(
    case: Case, bundle_dir: Path, model_dir: Path, embedded_registry: Registry, strategy: str
) -> None:
    case.damage(bundle_dir)
    options: dict[str, Any] = {
        "strategy_type": StrategyType.TREND,
        "model_path": model_dir,
    } | case.options
    with pytest.raises(RegistryError) as raised:
        embedded_registry.register(strategy, evidence=bundle_dir, **options)
    assert case.code in _codes(raised.value)
    assert case.fragment in str(raised.value)
    assert_nothing_registered(embedded_registry, strategy)


def test_undeclared_trials_are_refused(
    bundle_dir: Path, model_dir: Path, embedded_registry: Registry, strategy: str
) -> None:
    for attempt in range(11):
        embedded_registry.log_trial_run(strategy, params={"attempt": attempt})
    with pytest.raises(RegistryError) as raised:
        embedded_registry.register(
            strategy, strategy_type=StrategyType.TREND, evidence=bundle_dir, model_path=model_dir
        )
    assert raised.value.code == "registry.trials_undeclared"
    assert "declares trials: 10 but experiment" in str(raised.value)
    assert "holds 11 trials and the bundle adds 10" in str(raised.value)
    assert_nothing_registered(embedded_registry, strategy)


def test_bad_strategy_name(bundle_dir: Path, model_dir: Path, embedded_registry: Registry) -> None:
    with pytest.raises(RegistryError, match="not a DNS label"):
        embedded_registry.register(
            "BTC_Trend", strategy_type=StrategyType.TREND, evidence=bundle_dir, model_path=model_dir
        )


def test_every_problem_is_reported_at_once(bundle_dir: Path) -> None:
    (bundle_dir / "notes.txt").write_text("x")
    edit_parquet(bundle_dir / "returns.parquet", lambda t: with_value(t, "gross", 0, np.nan))
    edit_json(bundle_dir / "metadata.json", lambda d: d.update(strategyType="momentum"))
    with pytest.raises(BundleError) as raised:
        scan_bundle(bundle_dir)
    problems = {(p.file, p.field, p.code) for p in raised.value.problems}
    assert problems == {
        ("notes.txt", "", "bundle.unexpected_file"),
        ("returns.parquet", "gross", "bundle.non_finite"),
        ("metadata.json", "strategyType", "bundle.unknown_strategy_type"),
    }


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("C:\\evil", "is an absolute path"),
        ("../returns.parquet", "path separator"),
        ("sub/returns.parquet", "path separator"),
        ("..", "is not a file name"),
        ("a..b", "contains '..'"),
        (".hidden", "hidden"),
        ("", "is not a file name"),
    ],
)
def test_unsafe_names(name: str, reason: str) -> None:
    found = unsafe_name_reason(name)
    assert found is not None
    assert reason in found


def test_plain_names_are_safe() -> None:
    assert unsafe_name_reason("returns.parquet") is None
