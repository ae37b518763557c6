"""Every recorded action says where its change came from: PR, author, approvers, merge, gates."""

from __future__ import annotations

from desks import Desk
from mlflow.tracking import MlflowClient

from stratops.model.base import Stage


def _events(desk: Desk, action: str, stage: str) -> list[dict[str, object]]:
    return [
        e.details
        for e in desk.reconciler().audit.events()
        if e.action == action and e.stage == stage
    ]


def test_a_promotion_and_its_rollback_carry_their_provenance(desk: Desk) -> None:
    desk.reconciler().tick()
    [paper] = _events(desk, "deploy", "paper")
    assert paper["pull_request"] is None  # the desk's first commit: no pull request
    assert paper["evidence_digest"] == desk.registry.get_version("btc-trend", 1).evidence_digest

    merge = desk.promote_and_merge(1, Stage.CANARY, 50_000)
    desk.reconciler().tick()
    trailers = dict(desk.repo.commit(desk.forge.get_pull_request(1).head_sha).trailers)
    [deploy] = _events(desk, "deploy", "canary")
    [alias] = _events(desk, "set_alias", "canary")
    for details in (deploy, alias):
        assert details["pull_request"] == 1
        assert details["pull_request_url"] == desk.forge.get_pull_request(1).url
        assert (details["author"], details["approvers"]) == ("rita", ["bob"])
        assert details["merge_commit"] == merge
        assert details["change_commit"] == merge
        assert details["gate_report_digest"] == trailers["Gate-Report-Digest"]
        assert details["rollback_of"] is None
    history = desk.registry.alias_history("btc-trend")
    assert (history[-1].stage, history[-1].pull_request, history[-1].approvers) == (
        Stage.CANARY,
        1,
        ["bob"],
    )
    tags = (
        MlflowClient(desk.registry.location.tracking_uri).get_model_version("btc-trend", "1").tags
    )
    assert (tags["stratops.canary.pull_request"], tags["stratops.canary.approvers"]) == ("1", "bob")

    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    desk.git("revert", "--no-edit", "-m", "1", merge)  # the rollback, pushed to main
    desk.git("push", "--quiet", "origin", "main")
    desk.reconciler().tick()
    [removed] = _events(desk, "remove", "canary")
    assert removed["rollback_of"] == merge
    assert removed["pull_request"] is None  # pushed directly: no pull request, and it says so
