"""How the renderers print numbers, times and durations: fixed formats, the same everywhere."""

from __future__ import annotations

import math

import pandas as pd

from stratops.report.model import DrawdownRow, Report

DASH = "–"


def _fixed(value: float, spec: str) -> str:
    """``value`` in format ``spec`` (two decimals), a dash when not finite, never ``-0.00``."""
    if not math.isfinite(value):
        return DASH
    return format(0.0 if round(value, 2) == 0 else value, spec)


def money(value: float) -> str:
    return _fixed(value, ",.2f")


def bps(value: float) -> str:
    return f"{_fixed(value, '.2f')} bps" if math.isfinite(value) else DASH


def percent(value: float) -> str:
    return f"{_fixed(100 * value, '.2f')}%" if math.isfinite(value) else DASH


def probability(value: float) -> str:
    return DASH if not math.isfinite(value) else f"{value:.3f}"


def moment(ns: int | None) -> str:
    """``YYYY-MM-DD HH:MM`` UTC, or "under water" for a missing recovery."""
    if ns is None:
        return "under water"
    return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M")


def short_moment(ns: float) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").strftime("%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """``2d 03:15`` or ``03:15`` (hours:minutes); a dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return DASH
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    clock = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


def title(report: Report) -> str:
    parts = [report.strategy]
    if report.version is not None:
        parts.append(f"v{report.version}")
    if report.stage is not None:
        parts.append(f"({report.stage})")
    return " ".join(parts)


def window(report: Report) -> str:
    return f"{moment(report.start_ns)} to {moment(report.end_ns)} UTC"


def diagnosis(row: DrawdownRow) -> str:
    """``impact -0.80% of -1.20%``: the failure mode that lost most, against the depth."""
    lost = next(c.to_trough for c in row.contributions if c.mode == row.dominant)
    return f"{row.dominant} {percent(lost)} of {percent(row.depth)}"
