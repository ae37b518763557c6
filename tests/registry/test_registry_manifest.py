"""The bundle digest depends on the files' bytes only: properties, and the scanner's output."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bundles import edit_parquet, replace_column, retimed
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.model.canonical import canonical_digest
from stratops.model.evidence import EVIDENCE_FILES, EvidenceKind
from stratops.registry import BundleError, scan_bundle
from stratops.registry.manifest import build_manifest, bundle_digest, file_entry
from stratops.registry.synthetic import write_synthetic_bundle

KINDS = list(EVIDENCE_FILES)
contents = st.lists(st.binary(min_size=1, max_size=64), min_size=len(KINDS), max_size=len(KINDS))


def _entries(folder: Path, order: list[EvidenceKind]) -> list:
    return [file_entry(folder / EVIDENCE_FILES[kind], kind) for kind in order]


def _write(folder: Path, data: list[bytes]) -> None:
    for kind, blob in zip(KINDS, data, strict=True):
        (folder / EVIDENCE_FILES[kind]).write_bytes(blob)


@settings(max_examples=60, deadline=None)
@given(data=contents, order=st.permutations(KINDS))
def test_scan_order_does_not_change_the_digest(
    data: list[bytes], order: list[EvidenceKind]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        _write(folder, data)
        in_order = build_manifest(_entries(folder, KINDS))
        permuted = build_manifest(_entries(folder, order))
    assert permuted == in_order
    assert permuted.model_dump_json() == in_order.model_dump_json()


@settings(max_examples=60, deadline=None)
@given(data=contents, which=st.integers(0, len(KINDS) - 1), where=st.integers(0, 63))
def test_changing_one_byte_changes_the_digest(data: list[bytes], which: int, where: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        _write(folder, data)
        before = bundle_digest(_entries(folder, KINDS))
        changed = bytearray(data[which])
        changed[where % len(changed)] ^= 0x01
        _write(folder, [bytes(changed) if i == which else d for i, d in enumerate(data)])
        after = bundle_digest(_entries(folder, KINDS))
    assert after != before


def test_digest_is_the_canonical_json_of_the_sorted_entries(bundle_dir: Path) -> None:
    bundle = scan_bundle(bundle_dir)
    files = bundle.manifest.spec.files
    assert [f.path for f in files] == sorted(EVIDENCE_FILES.values())
    expected = canonical_digest([f.model_dump(by_alias=True, mode="json") for f in files])
    assert bundle.digest == expected
    assert bundle.manifest.metadata.name == f"evidence-{expected[:16]}"


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = scan_bundle(write_synthetic_bundle(tmp_path / "a", seed=7))
    again = scan_bundle(write_synthetic_bundle(tmp_path / "b", seed=7))
    other = scan_bundle(write_synthetic_bundle(tmp_path / "c", seed=8))
    assert first.digest == again.digest != other.digest


def test_scanning_writes_nothing(bundle_dir: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in bundle_dir.iterdir()}
    scan_bundle(bundle_dir)
    assert {p.name: p.stat().st_mtime_ns for p in bundle_dir.iterdir()} == before


def test_facts(bundle_dir: Path) -> None:
    facts = scan_bundle(bundle_dir).facts
    assert (facts.returns_rows, facts.return_days, facts.trades_rows, facts.latency_rows) == (
        4320,
        3,
        200,
        1000,
    )
    assert (facts.trial_columns, facts.trial_days) == (10, 3)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: retimed(t, pa.timestamp("us", "UTC")), id="microseconds"),
        pytest.param(lambda t: retimed(t, pa.timestamp("ms", "+00:00")), id="offset zero"),
        pytest.param(
            lambda t: replace_column(t, "net", t.column("net").cast(pa.float32())), id="float32"
        ),
        pytest.param(lambda t: t.drop_columns(["gross_exposure"]), id="optional column absent"),
        pytest.param(lambda t: t.append_column("signal", t.column("net")), id="extra column"),
    ],
)
def test_accepted_variants_of_returns(bundle_dir: Path, edit: object) -> None:
    assert callable(edit)
    edit_parquet(bundle_dir / "returns.parquet", edit)
    scan_bundle(bundle_dir)


def test_strings_may_be_dictionary_encoded(bundle_dir: Path) -> None:
    path = bundle_dir / "trades.parquet"
    table = pq.read_table(path)
    encoded = replace_column(table, "side", table.column("side").dictionary_encode())
    pq.write_table(encoded, path, store_schema=True)
    scan_bundle(bundle_dir)


def test_empty_returns_are_refused(bundle_dir: Path) -> None:
    edit_parquet(bundle_dir / "returns.parquet", lambda t: t.slice(0, 0))
    with pytest.raises(BundleError, match="the file has no rows"):
        scan_bundle(bundle_dir)
