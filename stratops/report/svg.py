"""Small, deterministic SVG plots for the reports: lines, waterfalls, bars and heat maps.

Each function returns one ``<svg>`` element as text, to be inlined in an HTML page: no
script, no external font or stylesheet, colours and fonts named in attributes. The same
arguments give the same bytes: coordinates are printed with two decimals and every ``id``
comes from the caller's ``plot_id``.

Values that are NaN are gaps (lines) or empty cells (heat maps), never zero; a mark without a
value sits on the x axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

WIDTH: Final = 720
HEIGHT: Final = 260
MARGIN_LEFT: Final = 72
MARGIN_RIGHT: Final = 40
MARGIN_TOP: Final = 28
MARGIN_BOTTOM: Final = 40
FONT: Final = 'font-family="sans-serif" font-size="11"'
PALETTE: Final = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
POSITIVE: Final = "#2ca02c"
NEGATIVE: Final = "#d62728"
TOTAL: Final = "#1f77b4"
AXIS: Final = "#444444"
GRID: Final = "#dddddd"

Formatter = Callable[[float], str]


def _c(value: float) -> str:
    """A coordinate, two decimals, never ``-0.00``."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2 or 5 times a power of ten.

    A range too narrow to divide (a constant series) is widened around its value.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high - low <= 1e-9 * max(abs(low), abs(high), 1e-300):
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    first -= first * step > low  # low / step can round (or underflow) past low
    last += last * step < high
    return [k * step for k in range(first, last + 1)]


@dataclass(frozen=True)
class Frame:
    """The plotting area and its scales."""

    x_low: float
    x_high: float
    y_low: float
    y_high: float
    width: int = WIDTH
    height: int = HEIGHT

    def x(self, value: float) -> float:
        span = self.x_high - self.x_low or 1.0
        return MARGIN_LEFT + (value - self.x_low) / span * (self.width - MARGIN_LEFT - MARGIN_RIGHT)

    def y(self, value: float) -> float:
        span = self.y_high - self.y_low or 1.0
        inner = self.height - MARGIN_TOP - MARGIN_BOTTOM
        return MARGIN_TOP + (self.y_high - value) / span * inner


def _open(plot_id: str, title: str, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(plot_id)}" class="plot" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(plot_id)}-title">',
        f'<title id="{escape(plot_id)}-title">{escape(title)}</title>',
        f'<text x="{MARGIN_LEFT}" y="16" {FONT} font-weight="bold">{escape(title)}</text>',
    ]


def _y_axis(frame: Frame, ticks: Sequence[float], fmt: Formatter) -> list[str]:
    parts = []
    right = frame.width - MARGIN_RIGHT
    for tick in ticks:
        y = _c(frame.y(tick))
        parts.append(f'<line x1="{MARGIN_LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="{GRID}" />')
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y}" {FONT} text-anchor="end" '
            f'dominant-baseline="middle">{escape(fmt(tick))}</text>'
        )
    bottom = frame.height - MARGIN_BOTTOM
    parts.append(
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{bottom}" '
        f'stroke="{AXIS}" />'
    )
    return parts


def _x_labels(frame: Frame, labels: Sequence[tuple[float, str]]) -> list[str]:
    y = frame.height - MARGIN_BOTTOM + 16
    return [
        f'<text x="{_c(frame.x(x))}" y="{y}" {FONT} text-anchor="middle">{escape(text)}</text>'
        for x, text in labels
    ]


def _empty(plot_id: str, title: str, message: str) -> str:
    parts = _open(plot_id, title)
    parts.append(
        f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" {FONT} text-anchor="middle">'
        f"{escape(message)}</text>"
    )
    return "\n".join([*parts, "</svg>"])


@dataclass(frozen=True)
class Line:
    """One series of a line chart: ``x`` and ``y`` of the same length."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    fill_to_zero: bool = False
    colour: str | None = None  # None: the palette's, by the line's index
    css: str = ""  # class of its polylines, for pages and tests to find it


@dataclass(frozen=True)
class Mark:
    """A point over a line chart, coloured by its ``kind`` (also its class); NaN ``y``: on the axis.

    ``ring`` circles it (a halt, a breach). ``label`` is its tooltip.
    """

    x: float
    y: float
    kind: str
    label: str
    ring: bool = False


RING: Final = "#000000"


def line_chart(
    plot_id: str,
    title: str,
    lines: Sequence[Line],
    *,
    x_labels: Sequence[tuple[float, str]],
    y_format: Formatter,
    markers: bool = False,
    marks: Sequence[Mark] = (),
    mark_colours: Mapping[str, str] | None = None,
) -> str:
    """Lines over a shared x axis; NaN breaks a line. ``x_labels`` are (x, text) ticks.

    ``marks`` are drawn over the lines, coloured by ``mark_colours[kind]``; the legend then
    names every line and each kind (and "halt" for rings) that occurs, in that order.
    """
    xs = _finite([v for line in lines for v in line.x] + [m.x for m in marks])
    ys = _finite([v for line in lines for v in line.y] + [m.y for m in marks])
    if not xs or not (ys or marks):
        return _empty(plot_id, title, "no data")
    low, high = (min(ys), max(ys)) if ys else (0.0, 1.0)  # marks without values: on the axis
    if any(line.fill_to_zero for line in lines):
        low, high = min(low, 0.0), max(high, 0.0)
    ticks = nice_ticks(low, high)
    frame = Frame(min(xs), max(xs), ticks[0], ticks[-1])
    parts = _open(plot_id, title)
    parts += _y_axis(frame, ticks, y_format)
    parts += _x_labels(frame, x_labels)
    entries = []
    for index, line in enumerate(lines):
        colour = line.colour or PALETTE[index % len(PALETTE)]
        entries.append((line.label, colour))
        css = f' class="{escape(line.css)}"' if line.css else ""
        for run in _runs(line.x, line.y):
            points = " ".join(f"{_c(frame.x(x))},{_c(frame.y(y))}" for x, y in run)
            if line.fill_to_zero:
                zero = _c(frame.y(0.0))
                first, last = _c(frame.x(run[0][0])), _c(frame.x(run[-1][0]))
                parts.append(
                    f'<polygon points="{first},{zero} {points} {last},{zero}" fill="{colour}" '
                    f'fill-opacity="0.25" stroke="none" />'
                )
            parts.append(
                f'<polyline{css} points="{points}" fill="none" stroke="{colour}" '
                'stroke-width="1.5" />'
            )
            if markers:
                parts += [
                    f'<circle cx="{_c(frame.x(x))}" cy="{_c(frame.y(y))}" r="3" fill="{colour}" />'
                    for x, y in run
                ]
    parts += _marks(frame, marks, mark_colours or {})
    kinds = list(dict.fromkeys(m.kind for m in marks))
    entries += [(kind, (mark_colours or {}).get(kind, AXIS)) for kind in kinds]
    entries += [("halt", RING)] if any(m.ring for m in marks) else []
    if len(entries) > 1:
        parts += _legend(frame, entries)
    return "\n".join([*parts, "</svg>"])


def _marks(frame: Frame, marks: Sequence[Mark], colours: Mapping[str, str]) -> list[str]:
    parts = []
    for mark in marks:
        if not math.isfinite(mark.x):
            continue
        x, y = _c(frame.x(mark.x)), _c(frame.y(mark.y if math.isfinite(mark.y) else frame.y_low))
        kind = escape(mark.kind)
        if mark.ring:
            parts.append(
                f'<circle class="halt" cx="{x}" cy="{y}" r="6.5" fill="none" stroke="{RING}" '
                'stroke-width="1.5" />'
            )
        parts.append(
            f'<circle class="mark {kind}" cx="{x}" cy="{y}" r="3.5" '
            f'fill="{colours.get(mark.kind, AXIS)}"><title>{escape(mark.label)}</title></circle>'
        )
    return parts


def _runs(xs: Sequence[float], ys: Sequence[float]) -> list[list[tuple[float, float]]]:
    """The stretches of finite points of a line (a NaN ends one)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys, strict=True):
        if math.isfinite(x) and math.isfinite(y):
            runs[-1].append((x, y))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _legend(frame: Frame, entries: Sequence[tuple[str, str]]) -> list[str]:
    """A (label, colour) per entry, stacked at the top right."""
    parts = []
    x = frame.width - MARGIN_RIGHT - 140
    for index, (label, colour) in enumerate(entries):
        y = MARGIN_TOP + 4 + 14 * index
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour}" />')
        parts.append(f'<text x="{x + 14}" y="{y + 9}" {FONT}>{escape(label)}</text>')
    return parts


@dataclass(frozen=True)
class Step:
    """One bar of a waterfall: a change, or a total drawn from zero."""

    label: str
    value: float
    total: bool = False


def waterfall(
    plot_id: str,
    title: str,
    steps: Sequence[Step],
    *,
    y_format: Formatter,
    rise_is_good: bool = True,
) -> str:
    """Bars that walk from one total to the next: green gains, red losses, blue totals.

    ``rise_is_good`` False (a waterfall of costs) draws rises red and falls green.
    """
    if not steps:
        return _empty(plot_id, title, "no data")
    level = 0.0
    spans = []
    for step in steps:
        value = step.value if math.isfinite(step.value) else 0.0
        start, end = (0.0, value) if step.total else (level, level + value)
        spans.append((start, end))
        level = end
    ticks = nice_ticks(min(0.0, *(min(s) for s in spans)), max(0.0, *(max(s) for s in spans)))
    frame = Frame(0.0, float(len(steps)), ticks[0], ticks[-1])
    parts = _open(plot_id, title)
    parts += _y_axis(frame, ticks, y_format)
    slot = frame.x(1.0) - frame.x(0.0)
    for index, (step, (start, end)) in enumerate(zip(steps, spans, strict=True)):
        good = (end >= start) == rise_is_good
        colour = TOTAL if step.total else (POSITIVE if good else NEGATIVE)
        left = frame.x(float(index)) + 0.15 * slot
        top, bottom = frame.y(max(start, end)), frame.y(min(start, end))
        parts.append(
            f'<rect x="{_c(left)}" y="{_c(top)}" width="{_c(0.7 * slot)}" '
            f'height="{_c(max(bottom - top, 0.5))}" fill="{colour}">'
            f"<title>{escape(step.label)}: {escape(y_format(step.value))}</title></rect>"
        )
        label_y = top - 3 if end >= start else bottom + 12  # outside the bar's far end
        parts.append(
            f'<text x="{_c(left + 0.35 * slot)}" y="{_c(label_y)}" {FONT} '
            f'text-anchor="middle">{escape(y_format(step.value))}</text>'
        )
    parts += _x_labels(frame, [(i + 0.5, s.label) for i, s in enumerate(steps)])
    return "\n".join([*parts, "</svg>"])


def grouped_bars(
    plot_id: str,
    title: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    y_format: Formatter,
) -> str:
    """Bars per group (x) and series (colour); NaN bars are left out."""
    values = _finite([v for _, vs in series for v in vs])
    if not groups or not values:
        return _empty(plot_id, title, "no data")
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    frame = Frame(0.0, float(len(groups)), ticks[0], ticks[-1])
    parts = _open(plot_id, title)
    parts += _y_axis(frame, ticks, y_format)
    slot = frame.x(1.0) - frame.x(0.0)
    width = 0.8 * slot / max(len(series), 1)
    zero = frame.y(0.0)
    for j, (label, vs) in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        for i, value in enumerate(vs):
            if not math.isfinite(value):
                continue
            left = frame.x(float(i)) + 0.1 * slot + j * width
            top, bottom = min(zero, frame.y(value)), max(zero, frame.y(value))
            parts.append(
                f'<rect x="{_c(left)}" y="{_c(top)}" width="{_c(width)}" '
                f'height="{_c(max(bottom - top, 0.5))}" fill="{colour}">'
                f"<title>{escape(groups[i])} {escape(label)}: {escape(y_format(value))}</title>"
                "</rect>"
            )
    parts += _x_labels(frame, [(i + 0.5, g) for i, g in enumerate(groups)])
    if len(series) > 1:
        parts += _legend(
            frame, [(label, PALETTE[j % len(PALETTE)]) for j, (label, _) in enumerate(series)]
        )
    return "\n".join([*parts, "</svg>"])


def _diverging(value: float, scale: float) -> str:
    """White at 0, red for costs (positive), green for gains (negative), saturating at scale."""
    share = max(-1.0, min(1.0, value / scale)) if scale > 0 else 0.0
    fade = round(255 * (1 - abs(share)))
    return f"rgb(255,{fade},{fade})" if share >= 0 else f"rgb({fade},255,{fade})"


def heat_map(
    plot_id: str,
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    value_format: Formatter,
) -> str:
    """A grid of cells coloured by value (red positive, green negative); NaN cells are grey."""
    finite = _finite([v for row in values for v in row])
    scale = max((abs(v) for v in finite), default=0.0)
    cell_w = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(columns), 1)
    cell_h = 22.0
    height = int(MARGIN_TOP + cell_h * len(rows) + MARGIN_BOTTOM)
    parts = _open(plot_id, title, height=height)
    for i, name in enumerate(rows):
        y = MARGIN_TOP + i * cell_h
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{_c(y + cell_h / 2)}" {FONT} text-anchor="end" '
            f'dominant-baseline="middle">{escape(name)}</text>'
        )
        for j, value in enumerate(values[i]):
            x = MARGIN_LEFT + j * cell_w
            fill = _diverging(value, scale) if math.isfinite(value) else "#eeeeee"
            text = value_format(value) if math.isfinite(value) else "no data"
            parts.append(
                f'<rect x="{_c(x)}" y="{_c(y)}" width="{_c(cell_w)}" height="{_c(cell_h)}" '
                f'fill="{fill}" stroke="#ffffff"><title>{escape(name)} {escape(columns[j])}: '
                f"{escape(text)}</title></rect>"
            )
    bottom = MARGIN_TOP + cell_h * len(rows) + 14
    parts += [
        f'<text x="{_c(MARGIN_LEFT + (j + 0.5) * cell_w)}" y="{_c(bottom)}" {FONT} '
        f'text-anchor="middle">{escape(name)}</text>'
        for j, name in enumerate(columns)
    ]
    parts.append(
        f'<text x="{MARGIN_LEFT}" y="{_c(bottom + 16)}" {FONT}>colour scale: ±'
        f"{escape(value_format(scale))} (red = cost, green = gain)</text>"
    )
    return "\n".join([*parts, "</svg>"])
