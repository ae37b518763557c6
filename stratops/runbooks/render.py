"""Runbooks for people: the steps of a context, as plain data, markdown or HTML (pure)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from stratops.model.alerts import AlertRule
from stratops.model.runbook import SECTIONS, Context, Runbook, Step


def steps_for(runbook: Runbook, context: Context | None) -> dict[str, list[Step]]:
    """Diagnosis and mitigation steps that apply in ``context`` (None: every step)."""
    return {
        section: [
            s for s in getattr(runbook.spec, section) if context is None or s.applies(context)
        ]
        for section in SECTIONS
    }


def _when(step: Step) -> str:
    return ", ".join(c.value for c in step.when) if step.when else "always"


def as_data(
    runbook: Runbook, alerts: Sequence[AlertRule], context: Context | None
) -> dict[str, Any]:
    return {
        "runbook": runbook.name,
        "title": runbook.spec.title,
        "context": None if context is None else context.value,
        "alerts": sorted(a.name for a in alerts),
        "meaning": runbook.spec.meaning,
        "impact": runbook.spec.impact,
        **{
            section: [
                {"do": s.do, "command": s.command, "when": [c.value for c in s.when]} for s in steps
            ]
            for section, steps in steps_for(runbook, context).items()
        },
    }


def markdown(runbook: Runbook, alerts: Sequence[AlertRule], context: Context | None = None) -> str:
    spec = runbook.spec
    names = ", ".join(f"`{a.name}`" for a in sorted(alerts, key=lambda a: a.name)) or "none"
    shown = "every context" if context is None else f"context: {context.value}"
    lines = [f"# {spec.title}", "", f"Runbook `{runbook.name}` ({shown}); alerts: {names}.", ""]
    lines += ["## Meaning", "", spec.meaning.strip(), "", "## Impact", "", spec.impact.strip(), ""]
    for section, steps in steps_for(runbook, context).items():
        lines += [f"## {section.capitalize()}", ""]
        for number, step in enumerate(steps, start=1):
            lines.append(f"{number}. *({_when(step)})* {step.do.strip()}")
            if step.command:
                lines += ["", "   ```", f"   {step.command}", "   ```"]
        lines.append("")
    return "\n".join(lines)


def html_page(runbook: Runbook, alerts: Sequence[AlertRule]) -> str:
    spec = runbook.spec
    e = html.escape
    names = ", ".join(e(a.name) for a in sorted(alerts, key=lambda a: a.name)) or "none"
    body = [
        f"<h1>{e(spec.title)}</h1>",
        f"<p>Runbook <code>{e(runbook.name)}</code>; alerts: {names}.</p>",
        f"<h2>Meaning</h2><p>{e(spec.meaning.strip())}</p>",
        f"<h2>Impact</h2><p>{e(spec.impact.strip())}</p>",
    ]
    for section, steps in steps_for(runbook, None).items():
        body.append(f"<h2>{section.capitalize()}</h2><ol>")
        for step in steps:
            command = f"<pre><code>{e(step.command)}</code></pre>" if step.command else ""
            body.append(f"<li><em>({e(_when(step))})</em> {e(step.do.strip())}{command}</li>")
        body.append("</ol>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(spec.title)}</title></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
