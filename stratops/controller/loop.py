"""The controller process: a reconcile tick every interval, or at once on a webhook or after
a tick in which the controller merged a pull request into main itself (a rollback under
``autoMerge: canary``: the next tick stops the canary without waiting an interval).

Each tick is logged as one JSON line; after every tick the audit log is compared with its
replica on the desk's remote and pushed when the replica lags (a push another replica won is
retried at the next tick). A tick that fails unexpectedly is logged and retried at the next
interval (with the loop's backoff), never a crash loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from stratops.controller.audit_remote import AuditDiverged, replicate, restore
from stratops.controller.observability import Probes
from stratops.controller.reconcile import Reconciler, TickResult
from stratops.gitops.errors import GitError
from stratops.notify.deliver import Notifier

MAX_BACKOFF_SECONDS = 300.0


def summary(result: TickResult) -> dict[str, object]:
    return {
        "head": result.head,
        "planned": 0 if result.plan is None else len(result.plan.actions),
        "applied": [f"{a.kind.value} {a.strategy}/{a.stage.value}" for a in result.applied],
        "failed": [
            f"{a.kind.value} {a.strategy}/{a.stage.value}: {why}" for a, why in result.failed
        ],
        "refused": {name: verdict.code for name, (_, _, verdict) in result.refused.items()},
        "blocked": {
            f"{name}/{stage.value}": {"version": b.version, "code": b.code, "reason": b.reason}
            for (name, stage), b in sorted(result.blocked.items())
        },
        "problems": result.problems,
        "merged": list(result.merged),
        "seconds": round(result.seconds, 3),
    }


def _notify(notifier: Notifier, log: logging.Logger) -> None:
    """Send the tick's events to the webhooks; a failure is logged, never fatal."""
    try:
        deliveries = notifier.flush()
    except Exception:  # notifications must never stop reconciliation
        log.exception("notifications not sent")
        return
    for delivery in deliveries:
        level = logging.INFO if delivery.outcome == "sent" else logging.WARNING
        log.log(
            level,
            "notification",
            extra={
                "webhook": delivery.webhook,
                "event": delivery.action,
                "sequence": delivery.sequence,
                "outcome": delivery.outcome,
                "detail": delivery.detail,
            },
        )


def run(
    reconciler: Reconciler,
    *,
    interval: float,
    stop: threading.Event,
    trigger: threading.Event,
    probes: Probes,
    audit_log: Path,
    acquire_leadership: Callable[[], bool] = lambda: True,
    once: bool = False,
    logger: logging.Logger | None = None,
    notifier: Notifier | None = None,
    on_tick: Callable[[TickResult], None] | None = None,
) -> TickResult | None:
    """Tick until ``stop``; with ``once``, tick once and return that tick's result.

    ``None`` means the last tick did not reconcile (it failed, or this replica is standby).
    """
    log = logger or logging.getLogger("stratops.controller")
    result: TickResult | None = None
    try:
        if restore(reconciler.repo, audit_log):
            log.info("audit log restored from the remote replica")
    except (GitError, AuditDiverged) as exc:
        log.warning("audit log not restored", extra={"error": str(exc)})
    failures = 0
    while not stop.is_set():
        result = None
        if not acquire_leadership():
            probes.ticked("standby: another replica holds the lease")
            log.info("standby", extra={"reason": "not the leader"})
        else:
            try:
                result = reconciler.tick()
                level = logging.ERROR if result.failed or result.blocked else logging.INFO
                log.log(level, "reconciled", extra=summary(result))
                problems = "; ".join(result.problems) or None
                probes.ticked(problems)
                failures = 0
            except Exception as exc:  # a tick must never kill the loop
                failures += 1
                probes.ticked(f"tick failed: {exc}")
                log.exception("reconcile tick failed", extra={"failures": failures})
            try:
                replicate(reconciler.repo, audit_log)
            except (GitError, AuditDiverged) as exc:
                log.warning("audit log not replicated", extra={"error": str(exc)})
            if notifier is not None:
                _notify(notifier, log)
            if on_tick is not None and result is not None:
                try:
                    on_tick(result)
                except Exception:  # the status board must never stop reconciliation
                    log.exception("status not refreshed")
        if once:
            return result
        if result is not None and result.merged:
            log.info("ticking again at once", extra={"merged": list(result.merged)})
            continue  # main changed by this controller's own merge
        wait = min(interval * 2**failures, MAX_BACKOFF_SECONDS) if failures else interval
        trigger.wait(wait)
        trigger.clear()
    return result
