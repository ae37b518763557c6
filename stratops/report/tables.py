"""The report's tables as rows of text, shared by the HTML and markdown renderers."""

from __future__ import annotations

from typing import Final

from stratops.report import text
from stratops.report.model import Report


def summary_rows(report: Report) -> list[list[str]]:
    s = report.summary
    return [
        ["allocation", text.money(s.allocation)],
        ["paper alpha", text.money(s.alpha)],
        ["costs", text.money(s.costs)],
        ["net", text.money(s.net)],
        ["net return", text.percent(s.net_return)],
        ["max drawdown", text.percent(s.max_drawdown)],
        ["orders", str(s.orders)],
        ["fills", str(s.fills)],
        ["fill rate", text.percent(s.fill_rate)],
    ]


DRAWDOWN_HEADER: Final = (
    "peak", "trough", "recovery", "depth", "duration", "to trough", "diagnosis", "regimes",
    "incidents and halts", "risk events", "P(this deep)",
)  # fmt: skip


def drawdown_rows(report: Report) -> list[list[str]]:
    return [
        [
            text.moment(d.peak_ns),
            text.moment(d.trough_ns),
            text.moment(d.recovery_ns),
            text.percent(d.depth),
            text.duration(d.duration_s),
            text.duration(d.time_to_trough_s),
            text.diagnosis(d),
            ", ".join(d.regimes) or text.DASH,
            "; ".join(d.incidents) or text.DASH,
            str(d.risk_events),
            text.probability(d.probability),
        ]
        for d in report.drawdowns
    ]


def contribution_header(report: Report) -> tuple[str, ...]:
    modes = [c.mode for c in report.drawdowns[0].contributions] if report.drawdowns else []
    return ("peak", *modes)


def contribution_rows(report: Report) -> list[list[str]]:
    return [
        [text.moment(d.peak_ns), *(text.percent(c.to_trough) for c in d.contributions)]
        for d in report.drawdowns
    ]


ATTRIBUTION_HEADER: Final = (
    "group", "periods", "paper alpha", "delay", "spread", "impact", "opportunity", "fees",
    "funding", "P&L",
)  # fmt: skip


def attribution_rows(report: Report) -> list[list[str]]:
    """One row per group: ``symbol BTC/USDT``, ``day 2024-07-30``, ``regime thin``."""
    return [
        [f"{a.by} {a.group}", str(a.periods), *(text.money(v) for v in a.parts),
         text.money(a.pnl)]
        for a in report.attribution
    ]  # fmt: skip


MARKOUT_HEADER: Final = ("horizon", "mean", "median", "fills", "mid from candles")


def markout_rows(report: Report) -> list[list[str]]:
    return [
        [m.label, text.bps(m.mean_bps), text.bps(m.median_bps), str(m.fills),
         text.percent(m.from_candle)]
        for m in report.markouts
    ]  # fmt: skip


COST_HEADER: Final = ("regime", "orders", "delay", "trading", "opportunity", "fees", "total")


def regime_rows(report: Report) -> list[list[str]]:
    return [
        [c.group, str(c.orders), text.bps(c.delay_bps), text.bps(c.trading_bps),
         text.bps(c.opportunity_bps), text.bps(c.fees_bps), text.bps(c.total_bps)]
        for c in report.cost_by_regime
    ]  # fmt: skip


def decay_lines(report: Report) -> tuple[str, str]:
    """(headline, reason) of the decay section."""
    decay = report.decay
    headline = decay.verdict.replace("_", " ") if decay.verdict else "not judged"
    return headline, decay.reason
