"""``init``: a desk repository with its local remote and local forge, ready to promote.

Layout of a scaffolded desk ``DIR``::

    DIR/
      manifests/                 the example desk (strategies, policy, analysis)
      .github/workflows/promotion-gates.yml, .github/CODEOWNERS, .gitignore, README.md
      .stratops/remote.git       bare repository: ``origin`` (by absolute path)
      .stratops/remote.forge/    the local forge's pull-request records (beside the remote)

``.stratops/`` is ignored by the desk's Git, so the remote and the forge stay out of commits.
The templates live in ``stratops/desk/``; a leading ``dot-`` in a template's path stands for
``.`` (package data skips dotfiles).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from stratops.gitops.errors import GitOpsError, ScaffoldRefused
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.git import MAIN, GitRepo
from stratops.gitops.snapshot import MANIFESTS

TEMPLATES = Path(__file__).resolve().parent.parent / "desk"
REMOTE_PATH = Path(".stratops") / "remote.git"


@dataclass(frozen=True)
class Scaffold:
    root: Path
    remote: Path
    forge: Path
    commit: str


def template_files(templates: Path = TEMPLATES) -> dict[Path, Path]:
    """Template files by their path in a desk (``dot-github/x`` → ``.github/x``)."""
    files: dict[Path, Path] = {}
    for source in sorted(templates.rglob("*")):
        if source.is_file():
            parts = source.relative_to(templates).parts
            target = Path(*("." + p[4:] if p.startswith("dot-") else p for p in parts))
            files[target] = source
    return files


def init_desk(directory: Path, manifests: Path, templates: Path = TEMPLATES) -> Scaffold:
    """Scaffold a desk in ``directory`` (absent or empty) from the example ``manifests``."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldRefused(
            f"{directory} is not empty: stratops init needs a new or empty folder"
        )
    if not (manifests / "strategies").is_dir():
        raise ScaffoldRefused(f"no example desk at {manifests}: pass --manifests DIR")
    existed = directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    root = directory.resolve()
    try:
        return _scaffold(root, manifests, templates)
    except (GitOpsError, OSError):
        for made in list(root.iterdir()) if existed else [root]:
            if made.is_dir():
                shutil.rmtree(made)
            else:
                made.unlink()
        raise


def _scaffold(root: Path, manifests: Path, templates: Path) -> Scaffold:
    shutil.copytree(manifests, root / MANIFESTS)
    for target, source in template_files(templates).items():
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / target)
    remote = root / REMOTE_PATH
    with GitRepo.init(root) as repo:
        GitRepo.init(remote, bare=True).close()
        forge = LocalForge.create(remote)
        repo.add_remote(str(remote))
        head = repo.commit_all("Desk scaffolded by stratops init")
        repo.publish(MAIN)
    return Scaffold(root, remote, forge.root, head)
