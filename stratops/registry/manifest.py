"""Content addressing: file hashes, the bundle digest and the generated manifest.

The bundle digest is the sha256 of the canonical JSON of the file entries sorted by path, so
it depends on the bytes of the files only, never on the order they were scanned in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from stratops.model.base import Metadata
from stratops.model.canonical import canonical_digest
from stratops.model.evidence import (
    EVIDENCE_FILES,
    EvidenceFile,
    EvidenceKind,
    EvidenceManifest,
    EvidenceManifestSpec,
)

MANIFEST_FILE = "manifest.json"
KIND_OF_FILE: dict[str, EvidenceKind] = {name: kind for kind, name in EVIDENCE_FILES.items()}
_CHUNK = 1 << 20


def hash_file(path: Path) -> tuple[int, str]:
    """(size, sha256) of the bytes actually read from ``path``."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while read := handle.readinto(buffer):
            digest.update(view[:read])
            size += read
    return size, digest.hexdigest()


def file_entry(path: Path, kind: EvidenceKind) -> EvidenceFile:
    """The entry of one file: name, kind, size and sha256 of the bytes actually read."""
    size, sha256 = hash_file(path)
    return EvidenceFile(path=path.name, kind=kind, size=size, sha256=sha256)


def sorted_entries(files: Iterable[EvidenceFile]) -> list[EvidenceFile]:
    return sorted(files, key=lambda entry: entry.path)


def bundle_digest(files: Iterable[EvidenceFile]) -> str:
    """sha256 of the canonical JSON of the entries, sorted by path."""
    return canonical_digest(
        [entry.model_dump(by_alias=True, mode="json") for entry in sorted_entries(files)]
    )


def build_manifest(files: Iterable[EvidenceFile]) -> EvidenceManifest:
    """The manifest stratops writes; its name is derived from the digest (content-addressed)."""
    entries = sorted_entries(files)
    digest = bundle_digest(entries)
    return EvidenceManifest(
        metadata=Metadata(name=f"evidence-{digest[:16]}"),
        spec=EvidenceManifestSpec(files=entries, digest=digest),
    )
