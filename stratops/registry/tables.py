"""Check the Parquet files of a bundle against ``PARQUET_COLUMNS``, column-wise and vectorised.

Only the specified columns are read (all columns for ``trials.parquet``, whose columns after
``timestamp`` are the trials). Every check is a pyarrow compute kernel or a numpy expression
over whole columns; no Python loop touches rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stratops.analytics.returns import utc_day
from stratops.model.evidence import EVIDENCE_FILES, PARQUET_COLUMNS, ColumnSpec, EvidenceKind
from stratops.model.problems import Problem

UTC_NAMES = frozenset({"UTC", "Etc/UTC", "+00:00", "Z"})
TIMESTAMP = "timestamp"
SIDES = pa.array(["buy", "sell"])
_SHOWN = 5

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TableFacts:
    """What the bundle checks and the summary need from one Parquet file."""

    rows: int = 0
    days: Int64Array = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    first: datetime | None = None
    last: datetime | None = None
    value_columns: tuple[str, ...] = ()


def utc_datetime(ns: int) -> datetime:
    """The UTC datetime of nanoseconds since the epoch (truncated to microseconds)."""
    seconds, rest = divmod(ns, 10**9)
    return datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=rest // 1000)


def day_text(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown if len(names) <= _SHOWN else f"{shown} (+{len(names) - _SHOWN} more)"


def _is_string(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        return _is_string(dtype.value_type)
    return bool(
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )


def dtype_problem(spec: ColumnSpec, dtype: pa.DataType) -> tuple[str, str] | None:
    """``(message, code)`` when ``dtype`` does not fit ``spec``, else None."""
    if spec.dtype == "timestamp":
        if not pa.types.is_timestamp(dtype):
            return f"expected timestamp[ns, tz=UTC], got {dtype}", "bundle.wrong_dtype"
        if dtype.tz is None:
            return (
                "timestamps are naive (no time zone): store them in UTC "
                "(pandas: .dt.tz_localize('UTC'))",
                "bundle.naive_timestamp",
            )
        if dtype.tz not in UTC_NAMES:
            return (
                f"timestamps are in time zone {dtype.tz}, expected UTC "
                "(pandas: .dt.tz_convert('UTC'))",
                "bundle.non_utc_timestamp",
            )
        return None
    if spec.dtype == "float" and not pa.types.is_floating(dtype):
        return f"expected a float column (double), got {dtype}", "bundle.wrong_dtype"
    if spec.dtype == "string" and not _is_string(dtype):
        return f"expected a string column, got {dtype}", "bundle.wrong_dtype"
    return None


def epoch_ns(column: pa.ChunkedArray) -> Int64Array:
    """Nanoseconds since the epoch (UTC) of a timestamp column without nulls."""
    as_ns = pc.cast(column, pa.timestamp("ns", tz="UTC"))
    return np.asarray(pc.cast(as_ns, pa.int64()).to_numpy(), dtype=np.int64)


def _rows_failing(ok: pa.ChunkedArray | pa.Array, null_is_ok: bool) -> npt.NDArray[np.intp]:
    """Row numbers where the boolean ``ok`` is false (or null, unless ``null_is_ok``)."""
    filled = pc.fill_null(ok, null_is_ok)
    return np.flatnonzero(~np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool))


class _Checker:
    def __init__(self, kind: EvidenceKind) -> None:
        self.file = EVIDENCE_FILES[kind]
        self.problems: list[Problem] = []

    def add(self, column: str, message: str, code: str) -> None:
        self.problems.append(Problem(file=self.file, field=column, message=message, code=code))

    def rows(self, column: str, failing: npt.NDArray[np.intp], what: str, code: str) -> None:
        if failing.size:
            self.add(column, f"{failing.size:,} value(s) {what}, first at row {failing[0]}", code)

    def finite(self, table: pa.Table, spec: ColumnSpec) -> None:
        finite = pc.is_finite(table.column(spec.name))
        what = "are null, NaN or infinite" if spec.required else "are NaN or infinite"
        self.rows(spec.name, _rows_failing(finite, not spec.required), what, "bundle.non_finite")

    def not_null(self, table: pa.Table, name: str) -> None:
        failing = _rows_failing(pc.is_valid(table.column(name)), False)
        self.rows(name, failing, "are null", "bundle.null_value")

    def increasing(self, ns: Int64Array) -> None:
        steps = np.diff(ns)
        duplicates = np.flatnonzero(steps == 0)
        backwards = np.flatnonzero(steps < 0)
        if duplicates.size:
            row = int(duplicates[0]) + 1
            self.add(
                TIMESTAMP,
                f"{duplicates.size:,} duplicate timestamp(s), first at row {row} "
                f"({np.datetime64(int(ns[row]), 'ns')}Z)",
                "bundle.duplicate_timestamp",
            )
        if backwards.size:
            row = int(backwards[0]) + 1
            self.add(
                TIMESTAMP,
                f"timestamps are not sorted: {backwards.size:,} step(s) back in time, first at "
                f"row {row} ({np.datetime64(int(ns[row]), 'ns')}Z); sort by timestamp",
                "bundle.unsorted_timestamp",
            )


def _open(path: Path, checker: _Checker) -> pa.Schema | None:
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        checker.add("", f"not a readable Parquet file: {exc}", "bundle.invalid_parquet")
        return None


def _typed_columns(schema: pa.Schema, kind: EvidenceKind, checker: _Checker) -> list[ColumnSpec]:
    """The specified columns present with the right dtype; problems for the others."""
    usable = []
    for spec in PARQUET_COLUMNS[kind]:
        index = schema.get_field_index(spec.name)
        if index < 0:
            if spec.required:
                checker.add(
                    spec.name, f"required {spec.dtype} column is missing", "bundle.missing_column"
                )
            continue
        wrong = dtype_problem(spec, schema.field(index).type)
        if wrong is None:
            usable.append(spec)
        else:
            checker.add(spec.name, *wrong)
    return usable


def _trial_columns(table: pa.Table, checker: _Checker) -> tuple[str, ...]:
    names = [name for name in table.column_names if name != TIMESTAMP]
    not_float = [n for n in names if not pa.types.is_floating(table.schema.field(n).type)]
    if not_float:
        checker.add(
            _listing(not_float),
            f"{len(not_float)} trial column(s) are not float: every column after timestamp "
            "holds one trial's daily returns",
            "bundle.wrong_dtype",
        )
    floats = [n for n in names if n not in not_float]
    if floats and table.num_rows:
        matrix = np.column_stack([table.column(n).to_numpy() for n in floats])
        bad = [floats[i] for i in np.flatnonzero(~np.isfinite(matrix).all(axis=0))]
        if bad:
            checker.add(
                _listing(bad),
                f"{len(bad)} trial column(s) hold null, NaN or infinite returns",
                "bundle.non_finite",
            )
    return tuple(names)


def _kind_rules(kind: EvidenceKind, table: pa.Table, usable: set[str], checker: _Checker) -> None:
    if kind is EvidenceKind.TRADES:
        for name in ("quantity", "price"):
            if name in usable:
                failing = _rows_failing(pc.greater(table.column(name), 0), True)
                checker.rows(name, failing, "are not > 0", "bundle.out_of_range")
        if "side" in usable:
            sides = pc.cast(table.column("side"), pa.string())
            failing = _rows_failing(pc.is_in(sides, value_set=SIDES), False)
            checker.rows("side", failing, "are neither 'buy' nor 'sell'", "bundle.out_of_range")
    if kind is EvidenceKind.LATENCY and "tick_to_order_ms" in usable:
        failing = _rows_failing(pc.greater_equal(table.column("tick_to_order_ms"), 0), True)
        checker.rows("tick_to_order_ms", failing, "are negative", "bundle.out_of_range")


def check_table(path: Path, kind: EvidenceKind) -> tuple[TableFacts, list[Problem]]:
    """Facts about one Parquet file of the bundle and the problems found in it."""
    checker = _Checker(kind)
    schema = _open(path, checker)
    if schema is None:
        return TableFacts(), checker.problems
    usable = _typed_columns(schema, kind, checker)
    columns = None if kind is EvidenceKind.TRIALS else [spec.name for spec in usable]
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        checker.add("", f"cannot read the Parquet data: {exc}", "bundle.invalid_parquet")
        return TableFacts(), checker.problems
    names = {spec.name for spec in usable}
    for spec in usable:
        if spec.dtype == "float":
            checker.finite(table, spec)
        elif spec.required:
            checker.not_null(table, spec.name)
    _kind_rules(kind, table, names, checker)
    values = _trial_columns(table, checker) if kind is EvidenceKind.TRIALS else ()
    facts = TableFacts(rows=table.num_rows, value_columns=values)
    series = kind in (EvidenceKind.RETURNS, EvidenceKind.TRIALS)
    if series and not table.num_rows:
        checker.add("", "the file has no rows", "bundle.empty")
    if series and TIMESTAMP in names and table.num_rows and not table.column(TIMESTAMP).null_count:
        try:
            ns = epoch_ns(table.column(TIMESTAMP))
        except pa.ArrowInvalid:
            checker.add(
                TIMESTAMP,
                "timestamps outside 1677-09-21..2262-04-11, the range of nanoseconds",
                "bundle.out_of_range",
            )
            return facts, checker.problems
        checker.increasing(ns)
        days = np.unique(utc_day(ns))
        if kind is EvidenceKind.TRIALS and days.size < ns.size:
            checker.add(
                TIMESTAMP,
                f"trials are daily: {ns.size - days.size} row(s) share a UTC date with another",
                "bundle.trials_not_daily",
            )
        facts = TableFacts(
            rows=table.num_rows,
            days=days,
            first=utc_datetime(int(ns.min())),
            last=utc_datetime(int(ns.max())),
            value_columns=values,
        )
    return facts, checker.problems
