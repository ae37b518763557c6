"""A report as GitHub-flavoured markdown: the tables and the verdict, no plots."""

from __future__ import annotations

from collections.abc import Sequence

from stratops.report import text
from stratops.report.model import Report
from stratops.report.tables import (
    ATTRIBUTION_HEADER,
    COST_HEADER,
    DRAWDOWN_HEADER,
    MARKOUT_HEADER,
    attribution_rows,
    contribution_header,
    contribution_rows,
    decay_lines,
    drawdown_rows,
    markout_rows,
    regime_rows,
    summary_rows,
)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: Report) -> str:
    """The report's sections as markdown (same report, same bytes)."""
    headline, reason = decay_lines(report)
    waterfall = [
        [step.label, text.money(step.amount), text.bps(step.bps)] for step in report.pnl_waterfall
    ]
    shortfall = [
        [step.label, text.money(step.amount), text.bps(step.bps)]
        for step in report.shortfall_waterfall
    ]
    lines = [
        f"# {text.title(report)}",
        "",
        text.window(report),
        "",
        *_table(("", "value"), summary_rows(report)),
        "",
        "## Decay verdict",
        "",
        f"**{headline}**: {reason}",
        "",
        "## Where the P&L went",
        "",
        *_table(("step", "amount", "bps of allocation"), waterfall),
        "",
        *_table(("shortfall", "amount", "bps of decision notional"), shortfall),
        "",
        "## Attribution",
        "",
        "P&L of each group split into paper alpha (every order filled in full at its decision "
        "mid) and what execution and carry cost (quote currency, negative lost):",
        "",
        *_table(ATTRIBUTION_HEADER, attribution_rows(report)),
        "",
        "## Markouts",
        "",
        *_table(MARKOUT_HEADER, markout_rows(report)),
        "",
        "## Cost by regime",
        "",
        *_table(COST_HEADER, regime_rows(report)),
        "",
        "## Drawdowns",
        "",
        *_table(DRAWDOWN_HEADER, drawdown_rows(report)),
        "",
        "Contribution of each failure mode, peak to trough (fraction of the allocation):",
        "",
        *_table(contribution_header(report), contribution_rows(report)),
        "",
        "## Notes and inputs",
        "",
        *(f"- {note}" for note in report.notes),
        *(f"- `{name}`: `{digest}`" for name, digest in report.inputs),
    ]
    return "\n".join(lines) + "\n"
