"""Round-trip edits: only the lines that change, change; comments and layout survive."""

from __future__ import annotations

import difflib

import pytest

from stratops.gitops.yaml_edit import DeleteKey, EditError, SetValue, apply_edits

from .helpers import EXAMPLE_MANIFESTS

STAGES = ("spec", "stages")
ORDER = ("live", "canary", "paper")

BLOCK = """\
# header comment
apiVersion: stratops.io/v1alpha1
kind: StrategyDeployment
metadata:
  name: btc-trend
spec:
  strategyType: trend
  venue: binance
  symbols:
    - BTC/USDT
  owners: ["research-trend"]
  stages:
    # live since March
    live:
      version: 3        # stable
      allocation: 1000000
    canary:
      version: 4
      allocation: 50000
      analysis: trend-canary
      # note about v4 only
    # paper comment
    paper:
      version: 5   # newest
  rollback: {autoMerge: canary}   # trailing
  halt: flatten
"""


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_flow_entries_change_one_line_each() -> None:
    text = (EXAMPLE_MANIFESTS / "strategies" / "btc-trend.yaml").read_text()
    edited = apply_edits(
        text, [SetValue((*STAGES, "live", "version"), 4), DeleteKey((*STAGES, "canary"))]
    )
    assert changed_lines(text, edited) == [
        "-    live: {version: 3, allocation: 1000000}",
        "-    canary: {version: 4, allocation: 50000, analysis: trend-canary, minDuration: 24h}",
        "+    live: {version: 4, allocation: 1000000}",
    ]
    assert "# canary rollbacks merge themselves" in edited


def test_block_style_keeps_comments_of_untouched_keys() -> None:
    edited = apply_edits(
        BLOCK, [SetValue((*STAGES, "live", "version"), 4), DeleteKey((*STAGES, "canary"))]
    )
    assert changed_lines(BLOCK, edited) == [
        "-      version: 3        # stable",
        "+      version: 4        # stable",
        "-    canary:",
        "-      version: 4",
        "-      allocation: 50000",
        "-      analysis: trend-canary",
        "-      # note about v4 only",
    ]
    assert "    # paper comment\n    paper:" in edited


def test_new_entry_follows_sibling_style_and_order() -> None:
    text = (EXAMPLE_MANIFESTS / "strategies" / "btc-mm.yaml").read_text()
    entry = {"version": 1, "allocation": 5000, "analysis": "trend-canary"}
    edited = apply_edits(text, [SetValue((*STAGES, "canary"), entry, order=ORDER)])
    assert changed_lines(text, edited) == [
        "+    canary: {version: 1, allocation: 5000, analysis: trend-canary}"
    ]
    assert edited.index("canary:") < edited.index("paper:")


def test_new_block_entry_in_ascending_desk_goes_last() -> None:
    text = "spec:\n  stages:\n    paper:\n      version: 5\n    canary:\n      version: 4\n"
    edited = apply_edits(
        text, [SetValue((*STAGES, "live"), {"version": 4, "allocation": 10}, order=ORDER)]
    )
    assert edited == text + "    live:\n      version: 4\n      allocation: 10\n"


def test_missing_parent_mapping_is_created() -> None:
    text = "spec:\n  venue: binance\n"
    edited = apply_edits(text, [SetValue((*STAGES, "paper"), {"version": 1}, order=ORDER)])
    assert edited == "spec:\n  venue: binance\n  stages:\n    paper: {version: 1}\n"


@pytest.mark.parametrize(
    ("text", "edit", "message"),
    [
        ("spec: [1, 2]\n", SetValue(("spec", "x"), 1), "not a mapping"),
        ("spec: {}\n", DeleteKey(("spec", "x")), "no such key"),
        ("spec: {a: {b: 1}}\n", SetValue(("spec", "a"), {"b": 2}), "existing mapping"),
        ("spec: [unclosed\n", SetValue(("spec",), 1), "does not parse"),
    ],
)
def test_edits_that_do_not_fit_are_refused(
    text: str, edit: SetValue | DeleteKey, message: str
) -> None:
    with pytest.raises(EditError, match=message):
        apply_edits(text, [edit])


def test_quotes_and_explicit_document_start_survive() -> None:
    text = "---\nspec:\n  name: 'quoted'\n  stages:\n    paper: {version: 1}\n"
    edited = apply_edits(text, [SetValue((*STAGES, "paper", "version"), 2)])
    assert edited == text.replace("version: 1", "version: 2")
