"""``DataQualityReport``: what loading found in the market data, and what repair did.

The report maps onto the evidence bundle's :class:`~stratops.model.evidence.DataQuality`
(``data_quality.json``). Counts are of rows of the source file(s):

- ``invalid``: rows dropped for a NaN or non-positive price, or a NaN or negative volume;
- ``off_grid``: rows dropped because their time is not a multiple of the bar size;
- ``out_of_order``: rows earlier than a row before them in the file (repaired by sorting);
- ``duplicates``: rows whose time repeats; the last one in file order is kept;
- ``bad_ohlc``: bars whose high/low did not bracket open and close (repaired by widening);
- ``gaps`` / ``missing``: runs of missing bars / missing bars, filled with flat synthetic bars
  at the previous close with zero volume (the simulator cannot fill an order in them);
- ``zero_volume``: real bars in which nothing traded (a fact of thin markets, not an error).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from stratops.model.evidence import DataQuality
from stratops.paper.marketdata.schema import (
    NS_PER_SECOND,
    BoolArray,
    FloatArray,
    Int64Array,
    iso_utc,
)


@dataclass(frozen=True)
class GridFacts:
    """Facts about a repaired, regular grid of bars."""

    start_ns: int
    end_ns: int
    rows: int
    expected_rows: int
    gaps: int
    missing: int
    zero_volume: int
    max_staleness_seconds: float


@dataclass(frozen=True)
class DataQualityReport:
    """What was found in (and done to) one dataset; see the module docstring for each count."""

    source: str
    fingerprint: str
    rows_in: int
    invalid: int
    off_grid: int
    out_of_order: int
    duplicates: int
    bad_ohlc: int
    grid: GridFacts

    @property
    def issues(self) -> dict[str, int]:
        """Non-zero structural problems (zero volume is not one), by name."""
        counts = {
            "invalid": self.invalid,
            "off_grid": self.off_grid,
            "out_of_order": self.out_of_order,
            "duplicates": self.duplicates,
            "bad_ohlc": self.bad_ohlc,
            "gaps": self.grid.gaps,
        }
        return {name: count for name, count in counts.items() if count}

    def describe(self) -> str:
        """One line for people: ``3 duplicates, 2 gaps (12 missing bars)``."""
        parts = []
        for name, count in self.issues.items():
            if name == "gaps":
                parts.append(f"{count} gaps ({self.grid.missing} missing bars)")
            else:
                parts.append(f"{count} {name.replace('_', ' ')}")
        if self.grid.zero_volume:
            parts.append(f"{self.grid.zero_volume} zero-volume bars")
        return ", ".join(parts) or "clean"

    def with_grid(self, grid: GridFacts) -> DataQualityReport:
        """The same file facts over another grid (a time slice of the repaired bars)."""
        return replace(self, grid=grid)

    def to_evidence(self) -> DataQuality:
        """The evidence bundle's ``data_quality.json`` model of this report."""
        return DataQuality(
            source=self.source,
            start=iso_utc(self.grid.start_ns),
            end=iso_utc(self.grid.end_ns),
            rows=self.grid.rows,
            expected_rows=self.grid.expected_rows,
            gaps=self.grid.gaps,
            duplicates=self.duplicates,
            max_staleness_seconds=self.grid.max_staleness_seconds,
            fingerprint=self.fingerprint,
        )


def grid_facts(ts: Int64Array, synthetic: BoolArray, volume: FloatArray, step_ns: int) -> GridFacts:
    """Rows, gaps, zero-volume bars and staleness of a regular grid of bars.

    Parameters
    ----------
    ts
        Bar open times, strictly increasing by ``step_ns``.
    synthetic
        True where repair inserted the bar.
    volume
        Base volume per bar.
    step_ns
        Bar size in nanoseconds.

    Returns
    -------
    GridFacts
        ``max_staleness_seconds`` is the longest time between two consecutive bars that
        traded (volume > 0); the whole range when fewer than two bars traded.
    """
    if len(ts) == 0:
        return GridFacts(0, 0, 0, 0, 0, 0, 0, 0.0)
    missing = synthetic.astype(bool)
    starts = missing & ~np.r_[False, missing[:-1]]
    traded = ts[(~missing) & (volume > 0)]
    span = float(ts[-1] - ts[0] + step_ns)
    staleness = float(np.max(np.diff(traded))) if len(traded) >= 2 else span
    return GridFacts(
        start_ns=int(ts[0]),
        end_ns=int(ts[-1]),
        rows=int((~missing).sum()),
        expected_rows=len(ts),
        gaps=int(starts.sum()),
        missing=int(missing.sum()),
        zero_volume=int(((~missing) & (volume == 0)).sum()),
        max_staleness_seconds=staleness / NS_PER_SECOND,
    )


def combine_reports(reports: Sequence[DataQualityReport]) -> DataQualityReport:
    """One report for several datasets used together (the symbols of one market).

    Counts add up, staleness is the worst, the range is the union and the fingerprint is the
    sha256 of the sorted per-file fingerprints, one per line.

    Parameters
    ----------
    reports
        At least one report.

    Returns
    -------
    DataQualityReport
        The combined report; a single report is returned unchanged.
    """
    if len(reports) == 1:
        return reports[0]
    grids = [r.grid for r in reports]
    fingerprint = combined_fingerprint([r.fingerprint for r in reports])
    grid = GridFacts(
        start_ns=min(g.start_ns for g in grids),
        end_ns=max(g.end_ns for g in grids),
        rows=sum(g.rows for g in grids),
        expected_rows=sum(g.expected_rows for g in grids),
        gaps=sum(g.gaps for g in grids),
        missing=sum(g.missing for g in grids),
        zero_volume=sum(g.zero_volume for g in grids),
        max_staleness_seconds=max(g.max_staleness_seconds for g in grids),
    )
    return DataQualityReport(
        source=" + ".join(r.source for r in reports),
        fingerprint=fingerprint,
        rows_in=sum(r.rows_in for r in reports),
        invalid=sum(r.invalid for r in reports),
        off_grid=sum(r.off_grid for r in reports),
        out_of_order=sum(r.out_of_order for r in reports),
        duplicates=sum(r.duplicates for r in reports),
        bad_ohlc=sum(r.bad_ohlc for r in reports),
        grid=grid,
    )


def combined_fingerprint(fingerprints: Sequence[str]) -> str:
    """One fingerprint for several files: sha256 of their sorted sha256s, one per line."""
    if len(fingerprints) == 1:
        return fingerprints[0]
    return hashlib.sha256("\n".join(sorted(fingerprints)).encode()).hexdigest()


def file_fingerprint(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
