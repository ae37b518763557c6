"""A canary's analysis run as charts: each metric's measurements against its regime threshold.

One inline SVG per metric (:mod:`stratops.report.svg`, no script, no network): the measured
values at each window's end, the threshold of each window's regime as a step line (the level
between two window ends is the threshold the later one was judged against; the first level
starts at the first window's start), a point per measurement coloured by its phase, and a ring
around each measurement where a ``haltOn`` condition tripped. A measurement without a value
(error, inconclusive) sits on the x axis. Pure: the same run gives the same bytes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import numpy as np
import pandas as pd

from stratops.canary import AnalysisRun, Measurement, MeasurementPhase
from stratops.report import svg, text

PHASE_COLOURS: Final = {
    MeasurementPhase.PASSED.value: svg.POSITIVE,
    MeasurementPhase.FAILED.value: svg.NEGATIVE,
    MeasurementPhase.INCONCLUSIVE.value: "#ff7f0e",
    MeasurementPhase.ERROR.value: "#7f7f7f",
}
VALUE_COLOUR: Final = svg.TOTAL
THRESHOLD_COLOUR: Final = svg.AXIS
TIME_TICKS: Final = 5


def _ns(when: datetime) -> float:
    return float(pd.Timestamp(when).value)


def _value(value: float | None) -> float:
    return math.nan if value is None else value


def threshold_steps(measurements: Sequence[Measurement]) -> tuple[list[float], list[float]]:
    """The step line of the thresholds: (x, y) with x in ns, NaN where a window has none."""
    if not measurements:
        return [], []
    xs, ys = [_ns(measurements[0].start)], [_value(measurements[0].threshold)]
    for before, after in itertools.pairwise(measurements):
        end = _ns(before.end)
        xs += [end, end]
        ys += [_value(before.threshold), _value(after.threshold)]
    xs.append(_ns(measurements[-1].end))
    ys.append(_value(measurements[-1].threshold))
    return xs, ys


def _tooltip(m: Measurement) -> str:
    value = "no value" if m.value is None else f"{m.value:.6g}"
    bound = "" if m.threshold is None else f" ({m.condition} {m.threshold:.6g} in {m.regime})"
    halt = ", halt" if m.halt else ""
    note = f": {m.note}" if m.note else ""
    return f"{text.short_moment(_ns(m.end))} {value}{bound}, {m.phase.value}{halt}{note}"


def plot_id(run: AnalysisRun, metric: str) -> str:
    return f"analysis-v{run.version}-step{run.step}-{metric}"


def metric_chart(run: AnalysisRun, metric: str) -> str:
    """The chart of one metric of ``run`` (its measurements in window order)."""
    found = sorted((m for m in run.measurements if m.metric.value == metric), key=lambda m: m.end)
    ends = [_ns(m.end) for m in found]
    condition = next((m.condition for m in found if m.condition), None)
    lines = [svg.Line("value", ends, [_value(m.value) for m in found], colour=VALUE_COLOUR,
                      css=f"series {metric}")]  # fmt: skip
    if any(m.threshold is not None for m in found):
        xs, ys = threshold_steps(found)
        label = f"threshold ({condition})" if condition else "threshold"
        lines.append(svg.Line(label, xs, ys, colour=THRESHOLD_COLOUR, css="threshold"))
    marks = [
        svg.Mark(x, _value(m.value), m.phase.value, _tooltip(m), ring=m.halt)
        for x, m in zip(ends, found, strict=True)
    ]
    span = [x for line in lines for x in line.x]  # the threshold starts at the first start
    ticks: list[float] = np.linspace(min(span), max(span), TIME_TICKS).tolist() if span else []
    return svg.line_chart(
        plot_id(run, metric),
        f"{metric}: v{run.version} step {run.step + 1} of {run.steps} (UTC)",
        lines,
        x_labels=[(t, text.short_moment(t)) for t in ticks],
        y_format=lambda v: f"{v:.4g}",
        marks=marks,
        mark_colours=PHASE_COLOURS,
    )


def run_charts(run: AnalysisRun) -> dict[str, str]:
    """A chart per metric of ``run``, in the order the judge measures them."""
    metrics = dict.fromkeys(m.metric.value for m in run.measurements)
    return {metric: metric_chart(run, metric) for metric in metrics}
