"""Validate an evidence bundle folder and compute its manifest.

:func:`scan_bundle` reads a folder and either returns a :class:`Bundle` or raises
:class:`BundleError` with every problem found (file, field, stable code). It writes nothing.
Files are hashed before they are parsed, so content that changes after hashing can never pass
as the hashed content: registration re-verifies the uploaded bytes against these hashes.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from stratops.model.base import StrategyType
from stratops.model.evidence import (
    EVIDENCE_FILES,
    PARQUET_COLUMNS,
    DataQuality,
    DataRange,
    EvidenceKind,
    EvidenceMetadata,
)
from stratops.model.problems import Problem
from stratops.registry.errors import BundleError
from stratops.registry.listing import DEFAULT_MAX_FILE_BYTES, list_files
from stratops.registry.manifest import build_manifest, file_entry
from stratops.registry.models import Bundle, BundleFacts
from stratops.registry.tables import TableFacts, check_table, day_text

M = TypeVar("M", bound=BaseModel)

METADATA_FILE = EVIDENCE_FILES[EvidenceKind.METADATA]
TRIALS_FILE = EVIDENCE_FILES[EvidenceKind.TRIALS]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON (use null or a finite number)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows to infinity (use a finite number)")
    return value


def _json_model(path: Path, model: type[M]) -> M | list[Problem]:
    name = path.name
    try:
        data: Any = json.loads(
            path.read_bytes(), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return [Problem(file=name, message=f"not valid JSON: {exc}", code="bundle.invalid_json")]
    if not isinstance(data, dict):
        return [
            Problem(
                file=name,
                message=f"expected a JSON object, got {type(data).__name__}",
                code="bundle.invalid_json",
            )
        ]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            got = error.get("input")
            seen = f" (got {got!r})" if isinstance(got, (str, int, float, bool)) else ""
            message = {
                "missing": "required field is missing",
                "extra_forbidden": "unknown field (fields are camelCase)",
            }.get(error["type"], f"{error['msg']}{seen}")
            problems.append(
                Problem(
                    file=name, field=field, message=message, code=f"bundle.schema.{error['type']}"
                )
            )
        return problems


def _utc_text(text: str) -> bool:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return False
    return parsed.utcoffset() == timedelta(0)


def _metadata_problems(metadata: EvidenceMetadata, expected: StrategyType | None) -> list[Problem]:
    problems = []
    known = [t.value for t in StrategyType]
    if metadata.strategy_type not in known:
        problems.append(
            Problem(
                file=METADATA_FILE,
                field="strategyType",
                message=f"unknown strategy type {metadata.strategy_type!r}, expected one of "
                f"{', '.join(known)}",
                code="bundle.unknown_strategy_type",
            )
        )
    elif expected is not None and metadata.strategy_type != expected.value:
        problems.append(
            Problem(
                file=METADATA_FILE,
                field="strategyType",
                message=f"the bundle is for strategy type {metadata.strategy_type!r} but "
                f"--type is {expected.value!r}",
                code="bundle.type_mismatch",
            )
        )
    problems += _range_problems(METADATA_FILE, "dataRange.", metadata.data_range)
    return problems


def _range_problems(file: str, prefix: str, span: DataRange | DataQuality) -> list[Problem]:
    """``start`` and ``end`` of ``span`` are ISO 8601 times in UTC, ``start`` not after ``end``."""
    problems = []
    for key in ("start", "end"):
        value = getattr(span, key)
        if not _utc_text(value):
            problems.append(
                Problem(
                    file=file,
                    field=f"{prefix}{key}",
                    message=f"expected an ISO 8601 time in UTC like 2024-01-01T00:00:00+00:00, "
                    f"got {value!r}",
                    code="bundle.non_utc_timestamp",
                )
            )
    if not problems and datetime.fromisoformat(span.start) > datetime.fromisoformat(span.end):
        problems.append(
            Problem(
                file=file,
                field=f"{prefix}start",
                message=f"start {span.start} is after end {span.end}",
                code="bundle.range_reversed",
            )
        )
    return problems


def _trial_problems(
    metadata: EvidenceMetadata | None, returns: TableFacts, trials: TableFacts
) -> list[Problem]:
    problems = []

    def add(field: str, message: str, code: str) -> None:
        problems.append(Problem(file=TRIALS_FILE, field=field, message=message, code=code))

    if metadata is not None and trials.rows and len(trials.value_columns) != metadata.trials:
        add(
            "",
            f"{len(trials.value_columns)} trial column(s) but metadata.json declares trials: "
            f"{metadata.trials} (one column per configuration tried, this one included)",
            "bundle.trials_count",
        )
    if returns.days.size and trials.days.size:
        r_first, r_last = int(returns.days[0]), int(returns.days[-1])
        t_first, t_last = int(trials.days[0]), int(trials.days[-1])
        if (r_first, r_last) != (t_first, t_last):
            add(
                "timestamp",
                f"trials cover {day_text(t_first)}..{day_text(t_last)} but returns cover "
                f"{day_text(r_first)}..{day_text(r_last)}: first and last dates must match",
                "bundle.trials_dates",
            )
        outside = np.setdiff1d(trials.days, returns.days, assume_unique=True)
        if outside.size:
            shown = ", ".join(day_text(int(d)) for d in outside[:5])
            add(
                "timestamp",
                f"{outside.size} trial date(s) without returns: {shown}",
                "bundle.trials_dates",
            )
    return problems


def scan_bundle(
    directory: Path,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    strategy_type: StrategyType | None = None,
) -> Bundle:
    """Validate the bundle in ``directory`` and compute its manifest.

    ``strategy_type``, when given, must equal ``metadata.json``'s ``strategyType``.
    Raises :class:`BundleError` listing every problem; nothing is written.
    """
    names = list(EVIDENCE_FILES.values())
    found, problems = list_files(directory, names, max_file_bytes=max_file_bytes)
    entries = [
        file_entry(found[name], kind) for kind, name in EVIDENCE_FILES.items() if name in found
    ]

    metadata: EvidenceMetadata | None = None
    data_quality: DataQuality | None = None
    if METADATA_FILE in found:
        loaded = _json_model(found[METADATA_FILE], EvidenceMetadata)
        if isinstance(loaded, list):
            problems += loaded
        else:
            metadata = loaded
            problems += _metadata_problems(loaded, strategy_type)
    dq_file = EVIDENCE_FILES[EvidenceKind.DATA_QUALITY]
    if dq_file in found:
        dq = _json_model(found[dq_file], DataQuality)
        if isinstance(dq, list):
            problems += dq
        else:
            data_quality = dq
            problems += _range_problems(dq_file, "", dq)

    facts: dict[EvidenceKind, TableFacts] = {}
    for kind in PARQUET_COLUMNS:
        name = EVIDENCE_FILES[kind]
        if name in found:
            facts[kind], table_problems = check_table(found[name], kind)
            problems += table_problems
    returns = facts.get(EvidenceKind.RETURNS, TableFacts())
    trials = facts.get(EvidenceKind.TRIALS, TableFacts())
    problems += _trial_problems(metadata, returns, trials)

    if problems or metadata is None or data_quality is None:
        raise BundleError(problems)
    return Bundle(
        root=directory,
        manifest=build_manifest(entries),
        metadata=metadata,
        data_quality=data_quality,
        facts=BundleFacts(
            returns_rows=returns.rows,
            returns_start=returns.first,
            returns_end=returns.last,
            return_days=int(returns.days.size),
            trades_rows=facts[EvidenceKind.TRADES].rows,
            latency_rows=facts[EvidenceKind.LATENCY].rows,
            trial_columns=len(trials.value_columns),
            trial_days=int(trials.days.size),
        ),
    )
