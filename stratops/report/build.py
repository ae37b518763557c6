"""Build a :class:`~stratops.report.model.Report` from telemetry, backtest and regime profile.

A pure function of its inputs (no I/O, no clock): the same tables give the same report.
Every number comes from :mod:`stratops.analytics`; this module only joins the telemetry to the
analytics' inputs and keeps what the report shows.

Conventions
-----------
Attribution
    :func:`stratops.analytics.attribution.attribute` of the orders, fills and positions: the
    P&L waterfall walks its parts from paper alpha to the net, the attribution table groups
    them by symbol, day and regime, and the drawdowns are diagnosed with them
    (:func:`stratops.analytics.drawdowns.diagnose_episodes`). The parts add up to the ledger's
    net; a difference over a cent is said in the notes.
Returns
    Of the allocation, as ``docs/telemetry.md`` defines them: per bar, ``net`` (or ``gross``)
    summed over symbols and divided by the run's allocation. The equity curve is the ledger
    (allocation plus cumulative ``net``, quote currency); the underwater curve and the
    drawdown episodes are :func:`stratops.analytics.drawdowns.drawdown_episodes`'.
Shortfall
    One row per order (:func:`stratops.analytics.tca.shortfall_table`); the end price that
    prices an unfilled remainder is the mark at the close of the order's bar.
Markouts
    :func:`stratops.analytics.tca.markouts` per symbol, from the quotes in the telemetry, with
    the bar marks as candle mids where there are none (the share is in the report).
Decay
    The alpha stream is the gross return per backtest period, against the backtest's gross
    returns (mean and standard deviation); the cost stream is each order's execution cost
    (delay, trading, fees; bps of its filled notional) against the pre-trade model the fills
    carry (half spread + impact + fee), its standard deviation the model's spread across
    orders (at least :data:`MIN_COST_SIGMA_BPS`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from stratops.analytics.attribution import (
    COSTS,
    PARTS,
    aggregate_attribution,
    attribute,
    order_periods,
)
from stratops.analytics.decay import DecayDiagnosis, diagnose, watch_alpha, watch_costs
from stratops.analytics.drawdowns import (
    diagnose_episodes,
    drawdown_episodes,
    drawdown_probability,
    seed_from_digests,
)
from stratops.analytics.regimes import HourOfWeekProfile, classify
from stratops.analytics.returns import log_drawdown
from stratops.analytics.tca import (
    BPS,
    DEFAULT_HORIZONS,
    aggregate_shortfall,
    markouts,
    shortfall_table,
)
from stratops.report.model import (
    SHORTFALL_PARTS,
    AttributionRow,
    Contribution,
    Curve,
    DecaySection,
    DrawdownRow,
    GroupCost,
    MarkoutPoint,
    Report,
    Summary,
    WaterfallStep,
)
from stratops.telemetry.schema import horizon_label

MAX_POINTS: Final = 720
"""Most points of a curve in the report; longer series keep the last (equity) or the lowest
(underwater) value of each of this many equal time buckets."""
MAX_EPISODES: Final = 10
JUDGED_EPISODES: Final = 3
"""The deepest episodes whose probability under the backtest is computed (a bootstrap each)."""
BOOTSTRAP_PATHS: Final = 1000
MIN_COST_SIGMA_BPS: Final = 0.5
ATTRIBUTION_GROUPS: Final = ("symbol", "day", "regime")
"""The groupings of the attribution section (regime only with a profile)."""
LEDGER_TOLERANCE: Final = 0.005
"""Largest difference between the attribution's total and the ledger's net said nothing of."""
NS_PER_SECOND: Final = 1_000_000_000


@dataclass(frozen=True)
class Telemetry:
    """The telemetry tables of a run or deployment (pandas frames of the telemetry schema)."""

    fills: pd.DataFrame
    orders: pd.DataFrame
    pnl: pd.DataFrame
    positions: pd.DataFrame
    allocation: float
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    quotes: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class Backtest:
    """The backtest evidence of the version: its digest and per-period returns (UTC index)."""

    digest: str
    net: pd.Series
    gross: pd.Series


@dataclass(frozen=True)
class Subject:
    """What the report is about: the strategy, its stage and its version, as reported."""

    strategy: str
    stage: str | None = None
    version: int | None = None


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a frame's column names and row hashes (same content, same digest)."""
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode("utf-8"))
    if len(frame):
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(np.ascontiguousarray(hashed).astype("<u8").tobytes())
    return digest.hexdigest()


def _ns(values: pd.Series | pd.Index) -> NDArray[np.int64]:
    return np.asarray(pd.DatetimeIndex(values).as_unit("ns").asi8, dtype=np.int64)


def _spacing(index: pd.Index) -> int:
    """Median spacing of a time index, ns (0 with fewer than two times)."""
    ns = _ns(index)
    return int(np.median(np.diff(ns).astype(np.float64))) if ns.size > 1 else 0


# --------------------------------------------------------------------------- ledger


def period_ledger(pnl: pd.DataFrame) -> pd.DataFrame:
    """The pnl table summed over symbols per bar, indexed by UTC bar time, sorted."""
    ledger = pnl.groupby("ts", sort=True)[["gross", "net"]].sum()
    ledger.index = pd.DatetimeIndex(ledger.index).tz_convert("UTC")
    return ledger


def _downsample(ns: NDArray[np.int64], values: NDArray[np.float64], how: str, points: int) -> Curve:
    if ns.size <= points:
        return Curve(tuple(int(t) for t in ns), tuple(float(v) for v in values))
    span = int(ns[-1] - ns[0]) + 1
    bucket = (ns - ns[0]) * points // span
    frame = pd.DataFrame({"t": ns, "v": values, "b": bucket})
    grouped = frame.groupby("b", sort=True)
    picked = grouped.tail(1) if how == "last" else frame.loc[grouped["v"].idxmin()]
    return Curve(tuple(int(t) for t in picked["t"]), tuple(float(v) for v in picked["v"]))


def _curves(ledger: pd.DataFrame, allocation: float, points: int) -> tuple[Curve, Curve]:
    ns = _ns(ledger.index)
    equity = allocation + np.cumsum(ledger["net"].to_numpy(np.float64))
    underwater = np.expm1(log_drawdown(ledger["net"].to_numpy(np.float64) / allocation))
    return _downsample(ns, equity, "last", points), _downsample(ns, underwater, "min", points)


def _pnl_waterfall(attributed: pd.DataFrame, allocation: float) -> tuple[WaterfallStep, ...]:
    def step(label: str, amount: float, total: bool = False) -> WaterfallStep:
        return WaterfallStep(label, amount, BPS * amount / allocation, total)

    steps = [step("paper alpha", float(attributed["alpha"].sum()))]
    steps += [step(part, float(attributed[part].sum())) for part in COSTS]
    steps.append(step("net", float(attributed["pnl"].sum()), total=True))
    return tuple(steps)


def _attribution_rows(
    attributed: pd.DataFrame, profile: HourOfWeekProfile | None
) -> tuple[AttributionRow, ...]:
    rows = []
    for key in ATTRIBUTION_GROUPS:
        if key == "regime" and profile is None:
            continue
        groups = aggregate_attribution(attributed, [key], profile=profile)
        labels = groups[key].dt.strftime("%Y-%m-%d") if key == "day" else groups[key].astype(str)
        parts = groups[list(PARTS)].to_numpy(np.float64)
        rows += [
            AttributionRow(key, str(label), int(n), tuple(float(v) for v in row), float(pnl))
            for label, n, row, pnl in zip(
                labels, groups["periods"], parts, groups["pnl"], strict=True
            )  # one row per group (symbols, days, three regimes), not per period
        ]
    return tuple(rows)


# --------------------------------------------------------------------------- execution


def order_frame(
    orders: pd.DataFrame, positions: pd.DataFrame, profile: HourOfWeekProfile | None
) -> pd.DataFrame:
    """Orders with ``end_price`` (mark at the close of their bar) and ``regime``, for TCA.

    The bar of an order is :func:`stratops.analytics.attribution.order_periods`'; orders whose
    bar is outside the window are left out, as the attribution leaves them out.
    """
    frame = order_periods(orders, positions)
    if profile is not None:
        frame = frame.assign(
            regime=classify(profile, _ns(frame["decision_time"]))["regime"].to_numpy()
        )
    return frame.sort_values(["ts", "order_id"], kind="stable").reset_index(drop=True)


def _group_costs(aggregated: pd.DataFrame, key: str) -> tuple[GroupCost, ...]:
    labelled = aggregated.assign(**{key: aggregated[key].astype(str)})
    return tuple(
        GroupCost(
            group=str(row[key]),
            orders=int(row["n_orders"]),
            notional=float(row["decision_notional"]),
            delay_bps=float(row["delay_bps"]),
            trading_bps=float(row["trading_bps"]),
            opportunity_bps=float(row["opportunity_bps"]),
            fees_bps=float(row["fees_bps"]),
            total_bps=float(row["total_bps"]),
        )
        for _, row in labelled.iterrows()  # one row per group (at most 168), not per order
    )


def _shortfall_waterfall(table: pd.DataFrame) -> tuple[WaterfallStep, ...]:
    notional = float(table["decision_notional"].sum())

    def bps(amount: float) -> float:
        return BPS * amount / notional if notional else math.nan

    steps = [
        WaterfallStep(p, float(table[p].sum()), bps(float(table[p].sum()))) for p in SHORTFALL_PARTS
    ]
    total = float(table["total"].sum())
    return (*steps, WaterfallStep("total", total, bps(total), total=True))


def _markouts(
    fills: pd.DataFrame,
    quotes: pd.DataFrame,
    positions: pd.DataFrame,
    horizons: Sequence[int],
) -> tuple[MarkoutPoint, ...]:
    rows = []
    for symbol in sorted(fills["symbol"].unique()):  # as-of joins are per symbol
        mine = fills[fills["symbol"] == symbol]
        book = quotes[quotes["symbol"] == symbol] if len(quotes) else quotes
        marks = positions[positions["symbol"] == symbol]
        found = markouts(
            _ns(mine["ts"]),
            mine["side"].to_numpy(),
            mine["price"].to_numpy(np.float64),
            _ns(book["ts"]) if len(book) else np.empty(0, dtype=np.int64),
            ((book["bid"] + book["ask"]) / 2).to_numpy(np.float64) if len(book) else np.empty(0),
            horizons,
            candle_times=_ns(marks["ts"]),
            candle_mids=marks["mark_price"].to_numpy(np.float64),
        )
        rows.append((found.bps, found.from_candle))
    width = len(horizons)
    bps = np.vstack([r[0] for r in rows]) if rows else np.empty((0, width))
    candle = np.vstack([r[1] for r in rows]) if rows else np.empty((0, width), dtype=bool)
    points = []
    for j, horizon in enumerate(horizons):
        column = bps[:, j]
        finite = np.isfinite(column)
        seconds = pd.Timedelta(horizon).total_seconds()
        label = ("-" if seconds < 0 else "") + horizon_label(int(abs(seconds)))
        points.append(
            MarkoutPoint(
                horizon_s=seconds,
                label=label,
                mean_bps=float(column[finite].mean()) if finite.any() else math.nan,
                median_bps=float(np.median(column[finite])) if finite.any() else math.nan,
                fills=int(finite.sum()),
                from_candle=float(candle[finite, j].mean()) if finite.any() else math.nan,
            )
        )
    return tuple(points)


# --------------------------------------------------------------------------- drawdowns


def _drawdowns(
    ledger: pd.DataFrame,
    attributed: pd.DataFrame,
    allocation: float,
    events: pd.DataFrame,
    incidents: pd.DataFrame | None,
    profile: HourOfWeekProfile | None,
    backtest: Backtest | None,
    seed: int,
) -> tuple[DrawdownRow, ...]:
    returns = ledger["net"] / allocation
    episodes = drawdown_episodes(returns).head(MAX_EPISODES)
    if episodes.empty:
        return ()
    per_period = attributed.groupby("ts", sort=True)[list(PARTS)].sum()
    per_period.index = pd.DatetimeIndex(per_period.index).tz_convert("UTC")
    parts = per_period.reindex(ledger.index, fill_value=0.0) / allocation
    times = _ns(ledger.index)
    regimes = (
        pd.Series(classify(profile, times)["regime"].to_numpy(), index=ledger.index)
        if profile is not None
        else None
    )
    diagnosed = diagnose_episodes(episodes, parts, regimes=regimes, incidents=incidents)
    event_ns = np.sort(_ns(events["ts"])) if len(events) else np.empty(0, dtype=np.int64)
    step = _spacing(backtest.net.index) if backtest is not None else 0
    periods = max(1, int((times[-1] - times[0]) // step) + 1) if step > 0 else len(times)
    rows = []
    for rank, (_, row) in enumerate(diagnosed.iterrows()):  # at most MAX_EPISODES episodes
        peak = int(pd.Timestamp(row["peak"]).value)
        recovered = not pd.isna(row["recovery"])
        recovery = int(pd.Timestamp(row["recovery"]).value) if recovered else None
        end = recovery if recovery is not None else int(times[-1])
        risk = int(
            np.searchsorted(event_ns, end, "right") - np.searchsorted(event_ns, peak, "left")
        )
        probability = (
            drawdown_probability(
                backtest.net.to_numpy(np.float64),
                float(row["depth"]),
                n_periods=periods,
                n_paths=BOOTSTRAP_PATHS,
                seed=seed,
            )
            if backtest is not None and rank < JUDGED_EPISODES
            else math.nan
        )
        rows.append(
            DrawdownRow(
                peak_ns=peak,
                trough_ns=int(pd.Timestamp(row["trough"]).value),
                recovery_ns=recovery,
                depth=float(row["depth"]),
                duration_s=pd.Timedelta(row["duration"]).total_seconds(),
                time_to_trough_s=pd.Timedelta(row["time_to_trough"]).total_seconds(),
                time_to_recover_s=(
                    pd.Timedelta(row["time_to_recover"]).total_seconds() if recovered else None
                ),
                contributions=tuple(
                    Contribution(mode, float(row[f"{mode}_to_trough"])) for mode in PARTS
                ),
                dominant=str(row["dominant"]),
                regimes=tuple(row["regimes"]),
                incidents=tuple(row["incidents"]),
                halts=int(row["halts"]),
                risk_events=risk,
                probability=probability,
            )
        )
    return tuple(rows)


# --------------------------------------------------------------------------- decay


def _order_costs(shortfall: pd.DataFrame, fills: pd.DataFrame) -> tuple[NDArray[np.float64], ...]:
    """Realized execution cost and the pre-trade model's, bps of filled notional, per order."""
    filled = shortfall[shortfall["filled_quantity"] > 0]
    notional = filled["filled_quantity"] * filled["decision_price"]
    realized = BPS * (filled["delay"] + filled["trading"] + filled["fees"]) / notional
    fill_notional = fills["quantity"] * fills["price"]
    model = (
        fills.assign(
            w=fill_notional,
            wx=fill_notional * (fills["half_spread_bps"] + fills["impact_bps"])
            + BPS * fills["fee"],
        )
        .groupby("order_id")[["w", "wx"]]
        .sum()
    )
    expected = (model["wx"] / model["w"]).reindex(filled["order_id"]).to_numpy(np.float64)
    return realized.to_numpy(np.float64), expected


def _decay(
    ledger: pd.DataFrame,
    allocation: float,
    shortfall: pd.DataFrame,
    fills: pd.DataFrame,
    backtest: Backtest | None,
) -> DecaySection:
    if backtest is None:
        return DecaySection(None, "no backtest evidence (no registered version): not judged")
    bt_ns = _ns(backtest.gross.index)
    if bt_ns.size < 3:
        return DecaySection(None, "the backtest has fewer than 3 returns: not judged")
    step = _spacing(backtest.gross.index)
    reference = backtest.gross.to_numpy(np.float64)
    sigma = float(np.nanstd(reference, ddof=1))
    if not sigma > 0:
        return DecaySection(None, "the backtest's gross returns do not vary: not judged")
    run_ns = _ns(ledger.index)
    bucket = (run_ns - run_ns[0]) // step
    alpha = (ledger["gross"] / allocation).groupby(bucket).sum().to_numpy(np.float64)
    realized, expected = _order_costs(shortfall, fills)
    ok = np.isfinite(realized) & np.isfinite(expected)
    if not ok.any():
        return DecaySection(None, "no filled order: the cost stream is empty, not judged")
    spread = float(np.std(expected[ok], ddof=1)) if ok.sum() > 1 else 0.0
    cost_sigma = max(spread, MIN_COST_SIGMA_BPS)
    diagnosis: DecayDiagnosis = diagnose(
        watch_alpha(alpha, float(np.nanmean(reference)), sigma),
        watch_costs(realized[ok], expected[ok], cost_sigma),
    )
    return DecaySection(diagnosis.verdict.value, diagnosis.reason, diagnosis.as_dict())


# --------------------------------------------------------------------------- the report


def build_report(
    subject: Subject,
    telemetry: Telemetry,
    *,
    backtest: Backtest | None = None,
    profile: HourOfWeekProfile | None = None,
    incidents: pd.DataFrame | None = None,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    points: int = MAX_POINTS,
) -> Report:
    """The report of ``subject`` from its telemetry, the backtest and the regime profile.

    Parameters
    ----------
    subject
        Strategy, stage and version, as the report names them.
    telemetry
        The tables read for the report's window (:mod:`stratops.telemetry.reader`).
    backtest
        The version's backtest evidence; without it the decay verdict and the drawdown
        probabilities are not computed (said in the report).
    profile
        The hour-of-week profile of the market; without it there is no cost by regime.
    incidents
        The incidents and halts of the deployment (the audit log's, columns
        :data:`stratops.analytics.drawdowns.EVENT_COLUMNS`), for the drawdowns' diagnosis.
    horizons
        Markout horizons, int nanoseconds (negative looks before the fill).
    points
        Most points of the equity and underwater curves.

    Raises
    ------
    ValueError
        When the telemetry has no pnl rows (nothing to report) or the allocation is not
        positive.
    """
    if not telemetry.allocation > 0:
        raise ValueError(f"the allocation must be positive; got {telemetry.allocation!r}")
    if telemetry.pnl.empty:
        raise ValueError("the telemetry has no pnl rows in the window: nothing to report")
    allocation = float(telemetry.allocation)
    notes: list[str] = []
    ledger = period_ledger(telemetry.pnl)
    equity, underwater = _curves(ledger, allocation, points)
    orders = order_frame(telemetry.orders, telemetry.positions, profile)
    shortfall = shortfall_table(orders, telemetry.fills)
    attributed = attribute(
        telemetry.orders, telemetry.fills, telemetry.positions, strategy=subject.strategy
    )
    inputs = {
        f"telemetry.{name}": frame_digest(frame)
        for name, frame in (
            ("fills", telemetry.fills),
            ("orders", telemetry.orders),
            ("pnl", telemetry.pnl),
            ("positions", telemetry.positions),
            ("events", telemetry.events),
            ("quotes", telemetry.quotes),
        )
    }
    if backtest is not None:
        inputs["backtest.evidence"] = backtest.digest
    if profile is not None:
        inputs["regime.profile"] = profile.digest()
    if incidents is not None:
        inputs["audit.incidents"] = frame_digest(incidents)
    seed = seed_from_digests(*(digest for _, digest in sorted(inputs.items())))

    by_regime: tuple[GroupCost, ...] = ()
    if profile is None:
        notes.append("no regime profile: cost by regime and the regimes of drawdowns are left out")
    elif len(shortfall):
        by_regime = _group_costs(aggregate_shortfall(shortfall, ["regime"]), "regime")
    hour_of_week = (
        _group_costs(aggregate_shortfall(shortfall, ["hour_of_week"]), "hour_of_week")
        if len(shortfall)
        else ()
    )
    points_ = _markouts(telemetry.fills, telemetry.quotes, telemetry.positions, horizons)
    if telemetry.quotes.empty:
        notes.append("no quotes in the telemetry: markout mids are the bar marks (candles)")
    if backtest is None:
        notes.append("no backtest evidence: no decay verdict, no drawdown probabilities")
    if incidents is None:
        notes.append("no audit log: the drawdowns' incidents and halts are not looked up")
    if attributed.attrs["orders_outside"]:
        notes.append(
            f"{attributed.attrs['orders_outside']} order(s) of bars outside the window are "
            "left out of the attribution and the shortfall"
        )

    ordered = float(orders["quantity"].sum()) if len(orders) else 0.0
    net = float(ledger["net"].sum())
    residual = float(attributed["pnl"].sum()) - net
    if not abs(residual) <= LEDGER_TOLERANCE:
        notes.append(
            f"the attribution's total differs from the ledger's net by {residual:.2f} (funding "
            "the ledger books that the attribution was not given, or periods without a mark)"
        )
    drawdowns = _drawdowns(
        ledger, attributed, allocation, telemetry.events, incidents, profile, backtest, seed
    )
    alpha = float(attributed["alpha"].sum())
    summary = Summary(
        allocation=allocation,
        alpha=alpha,
        costs=alpha - net,
        net=net,
        net_return=net / allocation,
        max_drawdown=float(min(underwater.values, default=0.0)),
        orders=len(orders),
        fills=len(telemetry.fills),
        fill_rate=float(shortfall["filled_quantity"].sum()) / ordered if ordered else math.nan,
    )
    times = _ns(ledger.index)
    return Report(
        strategy=subject.strategy,
        stage=subject.stage,
        version=subject.version,
        start_ns=int(times[0]),
        end_ns=int(times[-1]),
        inputs=tuple(sorted(inputs.items())),
        summary=summary,
        equity=equity,
        underwater=underwater,
        pnl_waterfall=_pnl_waterfall(attributed, allocation),
        attribution=_attribution_rows(attributed, profile),
        shortfall_waterfall=_shortfall_waterfall(shortfall) if len(shortfall) else (),
        markouts=points_,
        cost_by_regime=by_regime,
        hour_of_week=hour_of_week,
        drawdowns=drawdowns,
        decay=_decay(ledger, allocation, shortfall, telemetry.fills, backtest),
        notes=tuple(notes),
    )


__all__ = [
    "Backtest",
    "Subject",
    "Telemetry",
    "build_report",
    "frame_digest",
    "order_frame",
    "period_ledger",
]
