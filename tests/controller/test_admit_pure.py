"""Admission is a pure function of the snapshot: Git, the forge and MLflow are asked while the
snapshot is read (:mod:`stratops.controller.admission_facts`), never by :func:`admit`."""

from __future__ import annotations

from desks import Desk

from stratops.controller.admit import admit
from stratops.controller.state import verified_key
from stratops.model.base import Stage

MANIFEST = "manifests/strategies/btc-trend.yaml"


def test_admit_decides_the_same_on_the_same_snapshot_with_every_service_gone(
    desk: Desk,
) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    reconciler = desk.reconciler()
    snapshot = reconciler.observer.read(fetch=True)
    facts = snapshot.admission
    assert facts is not None and facts.commits is not None  # main's history was read for it
    (asked,) = facts.promotions.values()  # the merged promotion, asked once
    assert asked.allowed

    first = admit(snapshot)
    assert first.verified == {verified_key("btc-trend", "canary", 1, 10_000)}
    assert not first.refused
    canary = first.effective["btc-trend"].spec.stages.canary
    assert canary is not None and canary.version == 1

    gone = desk.root.with_name("moved-away")  # the repository, the forge and MLflow with it
    desk.root.rename(gone)
    try:
        assert admit(snapshot) == admit(snapshot) == first
    finally:
        gone.rename(desk.root)
    assert reconciler.tick().refused == first.refused  # and the tick applies what it admitted


def test_a_refusal_is_decided_from_the_snapshot_alone(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    path = desk.root / MANIFEST
    path.write_text(path.read_text().replace("allocation: 10000", "allocation: 90000"))
    desk.git("commit", "--quiet", "-am", "more capital, unreviewed")
    desk.git("push", "--quiet", "origin", "main")
    snapshot = desk.reconciler().observer.read(fetch=True)

    gone = desk.root.with_name("moved-away")
    desk.root.rename(gone)
    try:
        refused = admit(snapshot)
        assert admit(snapshot) == refused
    finally:
        gone.rename(desk.root)
    stage, version, verdict = refused.refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 1, "capital_exceeds_review")
    assert refused.effective["btc-trend"].spec.stages.canary is None  # what was applied: paper
