"""Git, through the ``git`` command: the few operations promotions need, errors translated.

Commits are built with plumbing (a temporary index, ``commit-tree``) from a base commit, so a
promotion never touches the working tree or the checked-out branch. Pushes use
``--force-with-lease`` with the value the caller last saw, so a branch that moved meanwhile is
never overwritten: the push is rejected (:class:`PushRejected`) and the caller retries.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from stratops.gitops.errors import GitError, PushRejected

MAIN = "main"
REMOTE = "origin"


class GitRepo:
    """A repository (working or bare) at ``root``, with its remote ``origin``."""

    def __init__(self, root: Path, remote: str = REMOTE) -> None:
        self.root = root
        self.remote = remote

    @classmethod
    def discover(cls, path: Path) -> GitRepo:
        """The repository whose working tree contains ``path``."""
        if not path.is_dir():
            raise GitError(f"{path} is not a folder")
        top = cls(path).run("rev-parse", "--show-toplevel").strip()
        return cls(Path(top))

    def run(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        return self.run_bytes(*args, input=input, env=env).decode("utf-8", "replace")

    def run_bytes(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> bytes:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.root,
                input=input,
                capture_output=True,
                env={**os.environ, **(env or {})},
                check=False,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror}") from exc
        if done.returncode != 0:
            detail = (done.stderr + done.stdout).decode("utf-8", "replace").strip()
            raise GitError(f"git {args[0]} failed in {self.root}: {detail}")
        return done.stdout

    def is_clean(self) -> bool:
        """No staged or unstaged change to a tracked file."""
        return not self.run("status", "--porcelain", "--untracked-files=no").strip()

    def fetch(self) -> None:
        self.run("fetch", "--quiet", "--prune", self.remote)

    def rev_parse(self, rev: str) -> str:
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
        except GitError as exc:
            raise GitError(f"{rev!r} is not a commit in {self.root}") from exc

    def remote_main(self) -> str:
        """The commit ``main`` of the remote had at the last fetch."""
        return self.rev_parse(f"{self.remote}/{MAIN}")

    def remote_url(self) -> str:
        return self.run("remote", "get-url", self.remote).strip()

    def remote_branch(self, branch: str) -> str | None:
        """The commit ``branch`` points at on the remote now, None if it does not exist."""
        out = self.run("ls-remote", self.remote, f"refs/heads/{branch}").split()
        return out[0] if out else None

    def branch(self, branch: str) -> str | None:
        """The commit of local ``branch`` (in a bare repository: of the branch it holds)."""
        out = self.run("for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
        return out.strip() or None

    def merge_base(self, one: str, other: str) -> str:
        return self.run("merge-base", one, other).strip()

    def author_date(self, rev: str) -> datetime:
        return datetime.fromisoformat(self.run("show", "-s", "--format=%aI", rev).strip())

    def config(self, key: str) -> str | None:
        try:
            return self.run("config", "--get", key).strip() or None
        except GitError:
            return None

    def read_file(self, rev: str, path: str) -> bytes:
        return self.run_bytes("cat-file", "blob", f"{rev}:{path}")

    def files(self, rev: str, folder: str) -> dict[str, bytes]:
        """The content of every file under ``folder`` at ``rev``, by repository path."""
        listing = self.run_bytes("ls-tree", "-r", "-z", "--full-tree", rev, "--", folder)
        entries: list[tuple[str, str]] = []
        for record in listing.decode("utf-8").split("\0"):
            if record:
                meta, path = record.split("\t", 1)
                _mode, kind, sha = meta.split()
                if kind == "blob":
                    entries.append((path, sha))
        if not entries:
            return {}
        batch = self.run_bytes(
            "cat-file", "--batch", input="".join(f"{sha}\n" for _, sha in entries).encode()
        )
        contents: dict[str, bytes] = {}
        offset = 0
        for path, _sha in entries:
            header_end = batch.index(b"\n", offset)
            size = int(batch[offset:header_end].split()[2])
            contents[path] = batch[header_end + 1 : header_end + 1 + size]
            offset = header_end + 1 + size + 1
        return contents

    def commit_file(
        self, parent: str, path: str, content: bytes, message: str, author_date: datetime
    ) -> str:
        """A new commit on ``parent`` that changes one file; the working tree is untouched."""
        blob = self.run("hash-object", "-w", "--stdin", input=content).strip()
        with tempfile.TemporaryDirectory(prefix="stratops-index-") as scratch:
            index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self.run("read-tree", parent, env=index)
            self.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=index)
            tree = self.run("write-tree", env=index).strip()
        return self.run(
            "commit-tree",
            tree,
            "-p",
            parent,
            "-F",
            "-",
            input=message.encode(),
            env={"GIT_AUTHOR_DATE": author_date.isoformat()},
        ).strip()

    def push(self, sha: str, branch: str, expected: str | None) -> None:
        """Point the remote ``branch`` at ``sha`` if it is still at ``expected`` (None: absent)."""
        self._push(f"{sha}:refs/heads/{branch}", branch, expected)

    def delete_remote_branch(self, branch: str, expected: str) -> None:
        self._push(f":refs/heads/{branch}", branch, expected)

    def _push(self, refspec: str, branch: str, expected: str | None) -> None:
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        try:
            self.run("push", "--porcelain", "--quiet", self.remote, lease, refspec)
        except GitError as exc:
            if "[rejected]" in str(exc) or "[remote rejected]" in str(exc):
                raise PushRejected(
                    f"the remote refused to update {branch}: it moved meanwhile or a hook "
                    f"declined ({exc})"
                ) from exc
            raise
