"""Check evidence downloaded from MLflow against the digest recorded in the version's tag.

The tag is the reference. The stored ``manifest.json`` is trusted only when its file entries
hash to that digest (sha256 makes a forged manifest with the same digest infeasible); then every
file is compared with its entry, so a changed file is named. Otherwise the files' own digest is
compared with the tag.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from stratops.model.evidence import EVIDENCE_FILES, EvidenceFile, EvidenceManifest
from stratops.model.problems import Problem
from stratops.registry.listing import NO_SIZE_LIMIT, list_files
from stratops.registry.manifest import KIND_OF_FILE, MANIFEST_FILE, bundle_digest, file_entry


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def _trusted_manifest(
    path: Path | None, digest: str, problems: list[Problem]
) -> EvidenceManifest | None:
    if path is None:
        return None
    try:
        manifest = EvidenceManifest.model_validate(json.loads(path.read_bytes()))
    except (ValueError, ValidationError) as exc:
        problems.append(
            Problem(
                file=MANIFEST_FILE,
                message=f"not a valid manifest: {exc}",
                code="evidence.manifest_invalid",
            )
        )
        return None
    listed = bundle_digest(manifest.spec.files)
    if listed != digest or manifest.spec.digest != digest:
        problems.append(
            Problem(
                file=MANIFEST_FILE,
                field="spec.digest",
                message=f"the stored manifest hashes to {_short(listed)} and claims "
                f"{_short(manifest.spec.digest)}, but the version's digest tag is {_short(digest)}",
                code="evidence.manifest_mismatch",
            )
        )
        return None
    return manifest


def _compare(entry: EvidenceFile, registered: EvidenceFile | None) -> Problem | None:
    if registered is None:
        return Problem(
            file=entry.path,
            message="not in the registered manifest",
            code="evidence.unexpected_file",
        )
    if registered == entry:
        return None
    return Problem(
        file=entry.path,
        message=f"content changed: sha256 {_short(entry.sha256)} ({entry.size:,} bytes), "
        f"registered {_short(registered.sha256)} ({registered.size:,} bytes)",
        code="evidence.hash_mismatch",
    )


def check_evidence(directory: Path, digest: str) -> tuple[list[EvidenceFile], list[Problem]]:
    """Entries recomputed from the files in ``directory`` and every difference from ``digest``."""
    names = list(EVIDENCE_FILES.values())
    found, problems = list_files(
        directory, [*names, MANIFEST_FILE], max_file_bytes=NO_SIZE_LIMIT, prefix="evidence"
    )
    entries = [file_entry(found[name], KIND_OF_FILE[name]) for name in names if name in found]
    manifest = _trusted_manifest(found.get(MANIFEST_FILE), digest, problems)
    if manifest is not None:
        registered = {entry.path: entry for entry in manifest.spec.files}
        compared = (_compare(entry, registered.get(entry.path)) for entry in entries)
        problems += [problem for problem in compared if problem is not None]
    elif len(entries) == len(names) and bundle_digest(entries) != digest:
        problems.append(
            Problem(
                file="bundle",
                message=f"the files hash to {_short(bundle_digest(entries))}, the version's "
                f"digest tag is {_short(digest)}",
                code="evidence.digest_mismatch",
            )
        )
    return entries, problems
