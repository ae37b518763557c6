"""A report as one self-contained HTML page: inline CSS and SVG, no script, no network.

The page opens from a file with nothing else: no CDN, no web font, no image file. The same
report gives the same bytes (no "generated at" time; the report's inputs are listed instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from stratops.report import text
from stratops.report.model import Report
from stratops.report.plots import all_plots
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

STYLE: Final = """
body { font-family: sans-serif; margin: 2em auto; max-width: 760px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.verdict { font-size: 1.2em; font-weight: bold; }
.note { color: #555; font-size: 0.85em; }
code { font-size: 0.8em; }
svg.plot { display: block; margin: 0.5em 0; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """The page: header and inputs, then one section per plot and table."""
    plots = all_plots(report)
    headline, reason = decay_lines(report)
    inputs = _table(("input", "sha256"), [[name, digest] for name, digest in report.inputs])
    sections = [
        f"<h1>{escape(text.title(report))}</h1>",
        f"<p>{escape(text.window(report))}</p>",
        _table(("", ""), summary_rows(report)),
        "<h2>Decay verdict</h2>",
        f'<p class="verdict">{escape(headline)}</p><p>{escape(reason)}</p>',
        "<h2>Equity</h2>",
        plots["plot-equity"],
        plots["plot-underwater"],
        "<h2>Where the P&amp;L went</h2>",
        plots["plot-pnl-waterfall"],
        plots["plot-shortfall-waterfall"],
        "<h2>Attribution</h2>",
        '<p class="note">P&amp;L of each group split into paper alpha (every order filled in '
        "full at its decision mid) and what execution and carry cost (quote currency, "
        "negative lost); the parts add up to the P&amp;L.</p>",
        _table(ATTRIBUTION_HEADER, attribution_rows(report)),
        "<h2>Markouts</h2>",
        plots["plot-markouts"],
        _table(MARKOUT_HEADER, markout_rows(report)),
        "<h2>Cost by regime</h2>",
        plots["plot-cost-by-regime"],
        _table(COST_HEADER, regime_rows(report)),
        plots["plot-hour-of-week"],
        "<h2>Drawdowns</h2>",
        _table(DRAWDOWN_HEADER, drawdown_rows(report)),
        '<p class="note">Contribution of each failure mode to the fall, peak to trough '
        "(fraction of the allocation):</p>",
        _table(contribution_header(report), contribution_rows(report)),
        "<h2>Notes and inputs</h2>",
        "".join(f'<p class="note">{escape(note)}</p>' for note in report.notes),
        inputs,
    ]
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(text.title(report))} report</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
