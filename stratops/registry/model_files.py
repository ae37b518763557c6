"""Content addressing of a registered model: its files, the model digest and the manifest.

A model folder (``MLmodel``, ``python_model.pkl``, environment files, any subfolders) is hashed
file by file; the **model digest** is the sha256 of the canonical JSON of the entries
``{path, size, sha256}`` sorted by path, as for the evidence bundle. Loading the model unpickles
``python_model.pkl``, which runs code, so nothing loads a registered model before its stored
files match the digest recorded on the version.

Checking stored files follows :mod:`stratops.registry.verify`: the stored manifest is trusted
only when its entries hash to the recorded digest; then each file is compared with its entry,
so a changed, missing or extra file is named. Otherwise the files' own digest is compared.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from stratops.model.base import Metadata
from stratops.model.canonical import canonical_digest
from stratops.model.evidence import ModelFile, ModelManifest, ModelManifestSpec
from stratops.model.problems import Problem
from stratops.registry.manifest import hash_file

MODEL_PREFIX = "model"
MODEL_MANIFEST_FILE = "manifest.json"


def _shown(path: str) -> str:
    return f"{MODEL_PREFIX}/{path}"


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def model_files(folder: Path) -> tuple[list[ModelFile], list[Problem]]:
    """Entries of every file under ``folder`` (sorted by path) and what cannot be hashed.

    Symlinks and anything that is not a regular file or folder are reported, never followed.
    """
    entries: list[ModelFile] = []
    problems: list[Problem] = []

    def walk(directory: Path, prefix: str) -> None:
        try:
            found = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            problems.append(
                Problem(
                    file=_shown(prefix or "."),
                    message=f"cannot read the folder: {exc.strerror}",
                    code="model.unreadable",
                )
            )
            return
        for entry in found:
            relative = f"{prefix}{entry.name}"
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                walk(Path(entry.path), f"{relative}/")
            elif stat.S_ISREG(mode):
                size, sha256 = hash_file(Path(entry.path))
                try:
                    entries.append(ModelFile(path=relative, size=size, sha256=sha256))
                except ValidationError:
                    problems.append(
                        Problem(
                            file=_shown(relative),
                            message="file name outside letters, digits, '.', '_' and '-'",
                            code="model.unsafe_name",
                        )
                    )
            else:
                kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
                problems.append(
                    Problem(
                        file=_shown(relative),
                        message=f"is {kind}: a model folder holds plain files only",
                        code="model.not_a_file",
                    )
                )

    walk(folder, "")
    return sorted(entries, key=lambda entry: entry.path), problems


def model_digest(files: Iterable[ModelFile]) -> str:
    """sha256 of the canonical JSON of the entries, sorted by path."""
    ordered = sorted(files, key=lambda entry: entry.path)
    return canonical_digest([entry.model_dump(by_alias=True, mode="json") for entry in ordered])


def build_model_manifest(files: Iterable[ModelFile]) -> ModelManifest:
    """The manifest stratops stores beside the model; named by its digest."""
    entries = sorted(files, key=lambda entry: entry.path)
    digest = model_digest(entries)
    return ModelManifest(
        metadata=Metadata(name=f"model-{digest[:16]}"),
        spec=ModelManifestSpec(files=entries, digest=digest),
    )


def _trusted_manifest(path: Path, digest: str, problems: list[Problem]) -> ModelManifest | None:
    shown = f"{MODEL_PREFIX}-{MODEL_MANIFEST_FILE}"
    if not path.is_file():
        problems.append(
            Problem(file=shown, message="no model manifest stored", code="model.manifest_missing")
        )
        return None
    try:
        manifest = ModelManifest.model_validate(json.loads(path.read_bytes()))
    except (ValueError, ValidationError) as exc:
        problems.append(
            Problem(
                file=shown, message=f"not a valid manifest: {exc}", code="model.manifest_invalid"
            )
        )
        return None
    listed = model_digest(manifest.spec.files)
    if listed != digest or manifest.spec.digest != digest:
        problems.append(
            Problem(
                file=shown,
                field="spec.digest",
                message=f"the stored model manifest hashes to {_short(listed)} and claims "
                f"{_short(manifest.spec.digest)}, but the version's model digest tag is "
                f"{_short(digest)}",
                code="model.manifest_mismatch",
            )
        )
        return None
    return manifest


def check_model(
    folder: Path, manifest_path: Path, digest: str
) -> tuple[list[ModelFile], list[Problem]]:
    """Entries recomputed from the stored model and every difference from ``digest``."""
    entries, problems = model_files(folder)
    manifest = _trusted_manifest(manifest_path, digest, problems)
    if manifest is None:
        if model_digest(entries) != digest:
            problems.append(
                Problem(
                    file=MODEL_PREFIX,
                    message=f"the model files hash to {_short(model_digest(entries))}, the "
                    f"version's model digest tag is {_short(digest)}",
                    code="model.digest_mismatch",
                )
            )
        return entries, problems
    registered = {entry.path: entry for entry in manifest.spec.files}
    for entry in entries:
        expected = registered.pop(entry.path, None)
        if expected is None:
            problems.append(
                Problem(
                    file=_shown(entry.path),
                    message="not in the registered model manifest",
                    code="model.unexpected_file",
                )
            )
        elif expected != entry:
            problems.append(
                Problem(
                    file=_shown(entry.path),
                    message=f"content changed: sha256 {_short(entry.sha256)} "
                    f"({entry.size:,} bytes), registered {_short(expected.sha256)} "
                    f"({expected.size:,} bytes)",
                    code="model.hash_mismatch",
                )
            )
    problems += [
        Problem(file=_shown(path), message="registered but not stored", code="model.missing_file")
        for path in sorted(registered)
    ]
    return entries, problems
