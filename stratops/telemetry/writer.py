"""Write telemetry atomically: a new import folder whole, or a running deployment's new part.

``import_file`` reads one file (plain or gzip), parses it with the format's importer
(:mod:`stratops.telemetry.importers`) and writes a new run folder::

    OUT/
      import.json                             format, source and its sha256, rows per table
      <table>/date=YYYY-MM-DD/part-0.parquet  one folder per UTC day, sorted by ts

Everything is written into a temporary folder next to ``OUT`` and renamed into place at the
end; on any error the temporary folder is removed, so a failed import leaves nothing behind.
:mod:`stratops.telemetry.reader` reads the result.

A running paper deployment appends instead (:func:`append_part`): every flush adds part ``N``
of each table, ``<run>/<table>/date=YYYY-MM-DD/part-<N>.parquet`` (each file written under a
dot-name the reader ignores, then renamed), and never rewrites an older part. A process that
dies between its parts and its checkpoint left parts the checkpoint does not count:
:func:`discard_parts` removes them before the resumed process writes them again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from stratops.model.problems import InvalidDocumentError, Problem
from stratops.telemetry.importers import PARSERS, ImportFormat
from stratops.telemetry.reader import DATE_PARTITION, PARTITIONING
from stratops.telemetry.schema import IMPORT_FILE

ROWS_PER_GROUP: Final = 65_536
PART_PREFIX: Final = "part-"
NS_PER_DAY: Final = 86_400_000_000_000


def _with_day(table: pa.Table) -> pa.Table:
    days = pc.divide(pc.cast(table["ts"], pa.int64()), NS_PER_DAY)
    return table.append_column(DATE_PARTITION, pc.cast(pc.cast(days, pa.int32()), pa.date32()))


def _summary(table: pa.Table) -> dict[str, Any]:
    bounds = pc.min_max(pc.cast(table["ts"], pa.int64()))
    return {
        "rows": table.num_rows,
        "start": pd.Timestamp(bounds["min"].as_py(), tz="UTC").isoformat(),
        "end": pd.Timestamp(bounds["max"].as_py(), tz="UTC").isoformat(),
    }


def write_tables(
    out: Path,
    tables: Mapping[str, pa.Table],
    facts: Mapping[str, Any],
    *,
    rows_per_group: int = ROWS_PER_GROUP,
) -> dict[str, Any]:
    """Write ``tables`` partitioned by UTC day into the new folder ``out``, atomically.

    Parameters
    ----------
    out
        The folder to create; it must not exist.
    tables
        Telemetry tables (:mod:`stratops.telemetry.schema`), sorted by ``ts``.
    facts
        JSON-able facts about where the tables come from, kept in ``import.json``.
    rows_per_group
        Rows per Parquet row group, the unit a windowed read skips.

    Returns
    -------
    dict
        The content of ``import.json``.

    Raises
    ------
    InvalidDocumentError
        ``import.exists`` when ``out`` exists already.
    """
    _refuse_existing(out)
    document = {
        **facts,
        "tables": {name: _summary(t) for name, t in sorted(tables.items()) if t.num_rows},
    }
    with _staging(out) as staging:
        for name, table in sorted(tables.items()):
            if not table.num_rows:
                continue
            ds.write_dataset(
                _with_day(table),
                staging / name,
                format="parquet",
                partitioning=PARTITIONING,
                basename_template="part-{i}.parquet",
                max_rows_per_group=rows_per_group,
                min_rows_per_group=min(rows_per_group, table.num_rows),
                file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
                preserve_order=True,
            )
        (staging / IMPORT_FILE).write_text(
            json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
    return document


def _refuse_existing(out: Path) -> None:
    if out.exists():
        message = "already exists: an import writes a new folder; choose another --out"
        raise InvalidDocumentError([Problem(file=str(out), message=message, code="import.exists")])


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield staging
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            return handle.readlines()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        problem = Problem(file=str(path), message=f"cannot read: {exc}", code="import.unreadable")
        raise InvalidDocumentError([problem]) from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_file(
    format: ImportFormat, path: Path, out: Path, *, rows_per_group: int = ROWS_PER_GROUP
) -> dict[str, Any]:
    """Import one file of the desk's fills or market data into a new telemetry folder.

    Returns the content of ``import.json``; raises
    :class:`~stratops.model.problems.InvalidDocumentError` (nothing written) on a bad file.
    """
    _refuse_existing(out)  # before reading a large file for nothing
    tables = PARSERS[format](str(path), _lines(path))
    facts = {"format": format.value, "source": str(path), "sha256": _sha256(path)}
    return write_tables(out, tables, facts, rows_per_group=rows_per_group)


def write_table(table: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically (temporary file in the same folder, then rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, path)


def part_name(part: int) -> str:
    """File name of part ``part`` of a table: zero-padded, so names sort like numbers."""
    return f"{PART_PREFIX}{part:08d}.parquet"


def append_part(folder: Path, tables: Mapping[str, pa.Table], part: int) -> None:
    """Add ``tables`` to the run ``folder`` as part ``part``: one file per table and UTC day.

    Empty tables write nothing. Existing parts are never touched.

    Parameters
    ----------
    folder
        The run folder (``run.json`` is its marker, written by the caller).
    tables
        Telemetry tables (:mod:`stratops.telemetry.schema`), each sorted by ``ts``.
    part
        The part number, larger than every part already written.
    """
    for name, table in sorted(tables.items()):
        if not table.num_rows:
            continue
        dated = _with_day(table)
        for day in pc.unique(dated[DATE_PARTITION]).to_pylist():
            rows = table.filter(pc.equal(dated[DATE_PARTITION], pa.scalar(day, pa.date32())))
            target = folder / name / f"{DATE_PARTITION}={day.isoformat()}" / part_name(part)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_table(rows, target)


def discard_parts(folder: Path, first: int) -> list[Path]:
    """Remove every part numbered ``first`` or more below ``folder``; return what was removed.

    These are the writes of a process that died before its checkpoint counted them.
    """
    removed = []
    for path in sorted(folder.glob(f"*/{DATE_PARTITION}=*/{PART_PREFIX}*.parquet")):
        number = path.name.removeprefix(PART_PREFIX).removesuffix(".parquet")
        if number.isdigit() and int(number) >= first:
            path.unlink()
            removed.append(path)
    return removed
