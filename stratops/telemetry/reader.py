"""Read telemetry for a time window, lazily: only the partitions and row groups it needs.

A *run* is a folder holding ``run.json`` (a paper run or a backtest) or ``import.json`` (the
desk's fills and quotes imported by ``stratops analytics import``). A table of a run is either
one Parquet file, ``<run>/<table>.parquet`` (paper engine), or a folder partitioned by UTC day,
``<run>/<table>/date=YYYY-MM-DD/part-0.parquet`` (imports). A *deployment* is a folder with runs
below it (the local runtime keeps ``v<version>/telemetry`` per version): reading it reads every
run in it.

The window is half-open, ``start <= ts < end``. Day partitions outside it are never opened and,
inside a file, row groups whose ``ts`` statistics lie outside it are never read, so reading the
last hour of a long history costs an hour, not the history. :func:`plan` lists what a read
would touch; :func:`read` reads exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from stratops.model.problems import InvalidDocumentError, Problem
from stratops.telemetry.schema import IMPORT_FILE, RUN_FILE, TS, schema_of

DATE_PARTITION = "date"
PARTITIONING = ds.partitioning(pa.schema([(DATE_PARTITION, pa.date32())]), flavor="hive")
_MARKERS = (RUN_FILE, IMPORT_FILE)


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)``; ``None`` leaves that side open.

    Both ends are timezone-aware datetimes (UTC or any other zone).
    """

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if bound is not None and bound.tzinfo is None:
                raise ValueError(f"{bound.isoformat()}: give a timezone-aware time (UTC)")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    def rows(self) -> ds.Expression | None:
        """The filter on ``ts``: the rows inside the window."""
        terms = []
        if self.start is not None:
            terms.append(ds.field("ts") >= pa.scalar(self.start, type=TS))
        if self.end is not None:
            terms.append(ds.field("ts") < pa.scalar(self.end, type=TS))
        return _all(terms)

    def days(self) -> ds.Expression | None:
        """The filter on the ``date`` partition: the UTC days the window touches."""
        terms = []
        if self.start is not None:
            terms.append(ds.field(DATE_PARTITION) >= _utc_day(self.start))
        if self.end is not None:
            terms.append(ds.field(DATE_PARTITION) <= _utc_day(self.end))
        return _all(terms)


def _utc_day(moment: datetime) -> pa.Scalar:
    return pa.scalar(pa.scalar(moment, type=TS).value // 86_400_000_000_000, type=pa.int32()).cast(
        pa.date32()
    )


def _all(terms: Sequence[ds.Expression]) -> ds.Expression | None:
    if not terms:
        return None
    combined = terms[0]
    for term in terms[1:]:
        combined = combined & term
    return combined


def _missing(folder: Path, message: str, code: str) -> InvalidDocumentError:
    return InvalidDocumentError([Problem(file=str(folder), message=message, code=code)])


def runs(folder: Path) -> list[Path]:
    """The runs of ``folder``: itself if it is a run, else every run below it, sorted.

    Raises
    ------
    InvalidDocumentError
        ``telemetry.not_found`` when ``folder`` holds no run.
    """
    if any((folder / marker).is_file() for marker in _MARKERS):
        return [folder]
    found = sorted({path.parent for marker in _MARKERS for path in folder.rglob(marker)})
    if not found:
        raise _missing(
            folder,
            f"no telemetry: expected a run folder ({RUN_FILE} or {IMPORT_FILE}) or a "
            "deployment folder with runs below it",
            "telemetry.not_found",
        )
    return found


def _dataset(run: Path, name: str) -> ds.Dataset | None:
    single = run / f"{name}.parquet"
    if single.is_file():
        return ds.dataset(single, format="parquet")
    partitioned = run / name
    if partitioned.is_dir():
        return ds.dataset(partitioned, format="parquet", partitioning=PARTITIONING)
    return None


@dataclass(frozen=True)
class Piece:
    """Row groups of one Parquet file that a read touches."""

    path: str
    row_groups: tuple[int, ...]
    fragment: ds.ParquetFileFragment
    schema: pa.Schema


def plan(folder: Path, name: str, window: Window = Window()) -> list[Piece]:
    """Which files and row groups :func:`read` reads for ``name`` in ``window``.

    Day partitions outside the window are pruned by their path, row groups by their ``ts``
    statistics; nothing else is opened.
    """
    schema_of(name)  # an unknown table name is a programming error
    rows, days = window.rows(), window.days()
    pieces = []
    for run in runs(folder):
        dataset = _dataset(run, name)
        if dataset is None:
            continue
        partitioned = DATE_PARTITION in dataset.schema.names
        selector = _all([e for e in (rows, days if partitioned else None) if e is not None])
        for fragment in dataset.get_fragments(filter=selector):
            for group in fragment.split_by_row_group(filter=rows, schema=dataset.schema):
                pieces.append(
                    Piece(
                        group.path,
                        tuple(g.id for g in group.row_groups),
                        group,
                        dataset.schema,
                    )
                )
    return pieces


def read(
    folder: Path, name: str, window: Window = Window(), columns: Sequence[str] | None = None
) -> pa.Table:
    """Table ``name`` of a run or a deployment, rows in ``window``, sorted by ``ts``.

    Parameters
    ----------
    folder
        A run, or a deployment with runs below it (see the module docstring).
    name
        One of :data:`stratops.telemetry.schema.TABLES`.
    window
        Rows with ``start <= ts < end``.
    columns
        Columns to read; all of the table's when None.

    Returns
    -------
    pyarrow.Table
        Runs whose ``fills`` carry different markout columns are combined with nulls where a
        run has no such column; an empty table of the schema when nothing matches.

    Raises
    ------
    InvalidDocumentError
        ``telemetry.not_found`` when ``folder`` holds no run.
    """
    rows = window.rows()
    tables = []
    for piece in plan(folder, name, window):
        wanted = list(columns) if columns is not None else piece.fragment.physical_schema.names
        tables.append(piece.fragment.to_table(schema=piece.schema, filter=rows, columns=wanted))
    if not tables:
        empty = schema_of(name).empty_table()
        return empty.select(list(columns)) if columns is not None else empty
    table = pa.concat_tables(tables, promote_options="default")
    return table.sort_by("ts") if "ts" in table.column_names else table
