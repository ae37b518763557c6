"""The controller's events reach the desk's webhooks; where they go is itself a governed rule."""

from __future__ import annotations

import threading

from desks import Desk
from test_rule_changes import LENIENT, STRICT, edit_policy
from webhook_receiver import receiver

from stratops.controller.assembly import ControllerPaths, build_notifier
from stratops.controller.loop import run
from stratops.controller.observability import Metrics, Probes
from stratops.gitops.forge.models import NewPullRequest, NewReview, ReviewState
from stratops.gitops.pulls import merge_pull_request

NOTIFICATION = "manifests/notifications/desk.yaml"


def notification(url: str) -> str:
    return f"""apiVersion: stratops.io/v1alpha1
kind: Notification
metadata: {{name: desk}}
spec:
  webhooks:
    - name: on-call
      url: {url}
      events: [policy_refused, promotion_refused]
"""


def merge_notification(desk: Desk, url: str) -> None:
    """Rita proposes the webhook, bob (an owner of the rules) approves, it merges."""
    desk.git("fetch", "--quiet", "origin")
    desk.git("switch", "--quiet", "-c", "notify", "origin/main")
    path = desk.root / NOTIFICATION
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notification(url))
    desk.git("add", NOTIFICATION)
    desk.git("commit", "--quiet", "-m", "Page the on-call person on refusals")
    desk.git("push", "--quiet", "origin", "notify")
    pull = desk.forge.open_pull_request(
        NewPullRequest(
            title="Notifications", body="", head_branch="notify", base_branch="main", author="rita"
        )
    )
    desk.forge.submit_review(pull.number, NewReview(reviewer="bob", state=ReviewState.APPROVED))
    merge_pull_request(desk.repo, desk.forge, pull.number)


def test_refusals_are_sent_and_a_pushed_webhook_change_is_not_obeyed(desk: Desk) -> None:
    with receiver() as on_call, receiver() as attacker:
        desk.reconciler().tick()
        merge_notification(desk, on_call.url)
        reconciler = desk.reconciler()
        metrics = Metrics()
        notifier = build_notifier(reconciler, {}, metrics)
        stop, trigger = threading.Event(), threading.Event()
        probes = Probes(stale_after_seconds=60)
        audit = ControllerPaths(desk.root).audit

        def tick() -> None:
            run(reconciler, interval=0, stop=stop, trigger=trigger, probes=probes,
                audit_log=audit, once=True, notifier=notifier)  # fmt: skip

        tick()
        assert on_call.received == []  # nothing refused yet; older events are not replayed

        desk.git("fetch", "--quiet", "origin")
        desk.git("switch", "--quiet", "-C", "main", "origin/main")
        path = desk.root / NOTIFICATION
        path.write_text(notification(attacker.url))
        edit_policy(desk, LENIENT, STRICT, "Policy and webhook, pushed without review")
        desk.git("push", "--quiet", "origin", "main")
        tick()
        tick()

        assert attacker.received == []
        [refused] = [r.json for r in on_call.received]
        assert refused["event"] == "policy_refused"
        assert refused["audit"]["details"]["code"] == "unreviewed"
        sample = {"webhook": "on-call", "outcome": "sent"}
        assert metrics.registry.get_sample_value("stratops_notifications_total", sample) == 1
