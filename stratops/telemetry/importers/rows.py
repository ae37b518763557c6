"""Checks shared by the importers: columns of parsed rows, validated whole, problems by line.

A parser turns its input into a frame of raw values (strings from CSV, JSON values from JSON
lines) and the line number of each row; :class:`Rows` converts one column at a time
(vectorised) and records a :class:`~stratops.model.problems.Problem` naming the file, the line,
the field and what was expected for every value it cannot use. :meth:`Rows.check` raises them
together, so one run of the importer lists every bad row (the first :data:`MAX_PROBLEMS`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from stratops.model.problems import InvalidDocumentError, Problem
from stratops.paper.marketdata.schema import BoolArray, FloatArray, Int64Array

MAX_PROBLEMS: Final = 20
# quote assets a venue symbol (BTCUSDT) may end with; the longest match wins
QUOTE_ASSETS: Final = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR")
_INTEGER: Final = r"\s*[+-]?(?:\d{1,18}|[1-8]\d{18})\s*"

Record = dict[str, Any]


def venue_symbol(symbol: str) -> str | None:
    """``BASE/QUOTE`` of a venue symbol: ``BTCUSDT`` is ``BTC/USDT``; ``BTC/USDT`` stays.

    None when no known quote asset (:data:`QUOTE_ASSETS`) ends it after a non-empty base.
    """
    if "/" in symbol:
        base, _, quote = symbol.partition("/")
        return symbol if base and quote else None
    upper = symbol.upper()
    for quote in sorted(QUOTE_ASSETS, key=len, reverse=True):
        if upper.endswith(quote) and len(upper) > len(quote):
            return f"{upper[: -len(quote)]}/{quote}"
    return None


def json_lines(
    source: str, lines: Iterable[str], pick: Callable[[int, str], Record | None]
) -> tuple[list[Record], list[Problem]]:
    """Rows picked from JSON lines: ``pick(number, line)`` returns a row, or None to skip.

    ``pick`` raises :class:`ValueError` for a line that is not what the format expects; the
    row is then a problem naming the line. Blank lines are skipped.
    """
    records: list[Record] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = pick(number, line)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            problems.append(Problem(file=source, line=number, message=str(exc), code="import.json"))
            continue
        if record is not None:
            records.append({**record, "_line": number})
    return records, problems


def json_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text``; :class:`ValueError` (teaching) when it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


class Rows:
    """Converts the columns of parsed rows, recording a problem per unusable value.

    Parameters
    ----------
    source
        The file, as problems name it.
    frame
        Raw values, one row per input row; missing fields are None, NaN or empty strings.
    lines
        The line number of each row in ``source``.
    """

    def __init__(self, source: str, frame: pd.DataFrame, lines: Int64Array) -> None:
        self.source = source
        self.frame = frame.reset_index(drop=True)
        self.lines = np.asarray(lines, dtype=np.int64)
        self.problems: list[Problem] = []

    def add(self, problems: Iterable[Problem]) -> None:
        """Problems found before the columns were converted (lines that did not parse)."""
        self.problems.extend(problems)

    def raw(self, field: str) -> pd.Series:
        """The raw values of ``field``; all None when no row has it."""
        if field in self.frame.columns:
            return self.frame[field]
        return pd.Series([None] * len(self.frame), dtype=object)

    def _missing(self, field: str) -> BoolArray:
        raw = self.raw(field)
        blank = (raw.astype("string").str.strip() == "").fillna(True)
        return np.asarray(raw.isna() | blank, dtype=np.bool_)

    def _flag(self, bad: BoolArray, field: str, expected: str, code: str) -> None:
        raw = self.raw(field)
        missing = self._missing(field)
        for index in np.flatnonzero(bad)[:MAX_PROBLEMS]:
            got = "nothing (missing)" if missing[index] else repr(raw.iloc[index])
            self.problems.append(
                Problem(
                    file=self.source,
                    line=int(self.lines[index]),
                    field=field,
                    message=f"expected {expected}, got {got}",
                    code=code,
                )
            )

    def number(self, field: str, *, required: bool = True, positive: bool = False) -> FloatArray:
        """A float column; NaN where an optional value is missing."""
        missing = self._missing(field)
        raw = self.raw(field)
        text = raw.where(~raw.map(lambda v: isinstance(v, bool)), "not a number")
        values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(np.float64)
        bad = ~missing & ~np.isfinite(values)
        if required:
            bad |= missing
        if positive:
            bad |= np.isfinite(values) & (values <= 0)
        expected = "a positive number" if positive else "a number"
        self._flag(bad, field, expected, "import.number")
        return np.where(bad, np.nan, values)

    def integer(self, field: str, *, required: bool = True) -> tuple[Int64Array, BoolArray]:
        """An int64 column and where it is present (an optional value may be missing)."""
        missing = self._missing(field)
        raw = self.raw(field)
        text = raw.where(~raw.map(lambda v: isinstance(v, bool)), "").astype("string")
        whole = text.str.fullmatch(_INTEGER).fillna(False).to_numpy(np.bool_)
        bad = ~missing & ~whole
        if required:
            bad |= missing
        self._flag(bad, field, "an integer", "import.integer")
        present = ~missing & whole
        values = np.zeros(len(raw), dtype=np.int64)
        values[present] = text[present].str.strip().astype("int64").to_numpy(np.int64)
        return values, present

    def timestamp(self, field: str, ns_per_unit: int) -> Int64Array:
        """A required integer time column in some unit, as nanoseconds since the epoch.

        A time before 1970 or after 2262 (beyond int64 nanoseconds) is a problem of its row.
        """
        values, present = self.integer(field)
        limit = np.iinfo(np.int64).max // ns_per_unit
        bad = present & ((values < 0) | (values > limit))
        self._flag(bad, field, f"a time from 0 (1970) to {limit} (2262)", "import.timestamp")
        return np.where(bad, 0, values) * ns_per_unit

    def choice(
        self,
        field: str,
        mapping: Mapping[str, str | None],
        expected: str,
        *,
        required: bool = True,
    ) -> npt.NDArray[np.object_]:
        """A vocabulary column: each raw value (as text) mapped through ``mapping``."""
        missing = self._missing(field)
        text = self.raw(field).astype("string")
        known = text.isin(list(mapping)).fillna(False).to_numpy(np.bool_)
        bad = ~missing & ~known
        if required:
            bad |= missing
        self._flag(bad, field, expected, "import.choice")
        return np.asarray(text.map(mapping).astype(object).where(known, None), dtype=object)

    def symbol(self, field: str) -> npt.NDArray[np.object_]:
        """``BASE/QUOTE`` symbols from a venue's (``BTCUSDT``) or a unified one (``BTC/USDT``)."""
        text = self.raw(field).astype("string").fillna("")
        uniques = pd.unique(text)
        mapping = {u: venue_symbol(u) for u in uniques if u}
        symbols = text.map(mapping).astype(object)
        bad = np.asarray(symbols.isna(), dtype=np.bool_)
        self._flag(
            bad,
            field,
            f"a symbol BASE/QUOTE or BASEQUOTE with a quote asset in {', '.join(QUOTE_ASSETS)}",
            "import.symbol",
        )
        return np.asarray(symbols.where(~bad, None), dtype=object)

    def check(self) -> None:
        """Raise every problem found so far, sorted by line (the first :data:`MAX_PROBLEMS`)."""
        if not self.problems:
            return
        ordered = sorted(self.problems, key=lambda p: (p.line or 0, p.field))
        shown = ordered[:MAX_PROBLEMS]
        if len(ordered) > MAX_PROBLEMS:
            shown.append(
                Problem(
                    file=self.source,
                    message=f"further problems not shown: fix these {MAX_PROBLEMS} and run again",
                    code="import.more",
                )
            )
        raise InvalidDocumentError(shown)


def records_frame(records: list[Record]) -> tuple[pd.DataFrame, Int64Array]:
    """The frame of picked records and their line numbers (the ``_line`` key)."""
    frame = pd.DataFrame(records if records else {"_line": []}, dtype=object)
    lines = frame.pop("_line").to_numpy(np.int64)
    return frame, lines


def build_table(
    schema: pa.Schema,
    columns: Mapping[str, Any],
    present: Mapping[str, BoolArray] | None = None,
) -> pa.Table:
    """A table of ``schema``, sorted by ``ts`` (stable): null where a column is not given.

    ``present`` marks, for integer columns with gaps, where the value exists.
    """
    rows = len(columns["ts"])
    masks = present or {}
    arrays = []
    for field in schema:
        if field.name not in columns:
            arrays.append(pa.nulls(rows, type=field.type))
        elif field.name in masks:
            arrays.append(pa.array(columns[field.name], type=field.type, mask=~masks[field.name]))
        else:
            arrays.append(pa.array(columns[field.name], type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema).sort_by("ts")
