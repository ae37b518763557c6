"""Git, through GitPython: the few operations stratops needs, in stratops values, errors translated.

Callers see hex shas, bytes, :class:`Commit` values and :class:`GitError`; nothing of GitPython
leaves this module. Commits are built in the object database from a base commit (a blob, the
trees on the file's path, a commit object), so a promotion never touches the working tree, the
index or the checked-out branch. Pushes use ``--force-with-lease`` with the value the caller
last saw, so a branch that moved meanwhile is never overwritten: the push is rejected
(:class:`PushRejected`) and the caller retries.

Signing follows git's configuration: with ``commit.gpgSign`` set, the commits written here are
signed with ``user.signingKey`` in ``gpg.format`` (``ssh``: an SSH key), as ``git commit`` would
sign them; :meth:`GitRepo.verify_commit` checks a signature against an allowed-signers list.
"""

from __future__ import annotations

import configparser
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from io import BytesIO
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

import git
from git.objects.fun import tree_to_stream
from gitdb.base import IStream

from stratops.gitops.errors import GitError, PushRejected

MAIN = "main"
REMOTE = "origin"

_FILE_MODE = 0o100644
_TREE_MODE = 0o040000
_TRAILER = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*) *: *(.*)")
_IDENT = re.compile(r"(?P<name>.*) <(?P<email>[^<>]*)> \d+ [-+]\d{4}")
# what GitPython's rev-parse raises for a name it cannot resolve (or a syntax it lacks)
_LOOKUP_ERRORS = (ValueError, IndexError, NotImplementedError, git.exc.ODBError)


@dataclass(frozen=True)
class Commit:
    """A commit as stratops reads it; ``trailers`` in message order, as ``(key, value)``."""

    sha: str
    parents: tuple[str, ...]
    author: str
    author_date: datetime
    message: str
    trailers: tuple[tuple[str, str], ...]


class SignatureStatus(StrEnum):
    """What git says of a commit's signature (``%G?``), told apart by what follows from it.

    ``GOOD``: valid, and for SSH by a key of the allowed signers; for OpenPGP by ``key``, a key
    of the keyring whatever trust the keyring gives it (the caller judges the fingerprint).
    """

    GOOD = "good"
    UNSIGNED = "unsigned"
    BAD = "bad"  # does not match the commit: the commit or the signature was altered
    UNKNOWN = "unknown"  # by no allowed key, or expired, revoked, not checkable here


_SIGNATURE_STATUS = {
    "G": SignatureStatus.GOOD,
    "N": SignatureStatus.UNSIGNED,
    "B": SignatureStatus.BAD,
}
_VALID_OPENPGP = {"G", "U"}  # good signature; U: the keyring does not vouch for the key
_SIGNATURE_FORMATS = {
    "-----BEGIN SSH SIGNATURE-----": "ssh",
    "-----BEGIN PGP SIGNATURE-----": "openpgp",
    "-----BEGIN SIGNED MESSAGE-----": "x509",
}


@dataclass(frozen=True)
class Signature:
    """The signature of a commit, as ``git verify-commit`` judges it.

    ``format`` is ``ssh``, ``openpgp`` or ``x509`` (None: unsigned); ``signer`` the principal of
    the allowed-signers line that matched (SSH) or the key's user id (OpenPGP); ``key`` the
    fingerprint of the signing key, ``primary_key`` of its primary key (OpenPGP).
    """

    status: SignatureStatus
    format: str | None
    signer: str
    key: str
    primary_key: str = ""


def parse_trailers(message: str) -> tuple[tuple[str, str], ...]:
    """The trailers of a commit message: its last paragraph, when every line of it is one.

    Reads what ``git interpret-trailers --parse`` reads for such a paragraph (the only form
    stratops writes): ``Key: value`` lines, a line that starts with whitespace continuing the
    value above it. The subject is never a trailer block.
    """
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", message.strip("\n")) if p.strip()]
    if len(paragraphs) < 2:
        return ()
    found: list[tuple[str, str]] = []
    for line in paragraphs[-1].splitlines():
        if line[:1] in (" ", "\t") and found:
            key, value = found[-1]
            found[-1] = (key, f"{value} {line.strip()}".strip())
            continue
        match = _TRAILER.fullmatch(line.rstrip())
        if match is None:
            return ()
        found.append((match[1], match[2].strip()))
    return tuple(found)


class GitRepo:
    """A repository (working or bare) at ``root``, with its remote ``origin``."""

    def __init__(self, root: Path, remote: str = REMOTE) -> None:
        self.root = root
        self.remote = remote
        try:
            self._repo = git.Repo(root)
        except (git.exc.InvalidGitRepositoryError, git.exc.NoSuchPathError) as exc:
            raise GitError(f"{root} is not a git repository") from exc

    @classmethod
    def discover(cls, path: Path) -> GitRepo:
        """The repository whose working tree contains ``path``."""
        if not path.is_dir():
            raise GitError(f"{path} is not a folder")
        try:
            found = git.Repo(path, search_parent_directories=True)
        except git.exc.InvalidGitRepositoryError as exc:
            raise GitError(f"{path} is in no git repository") from exc
        top = found.working_tree_dir
        found.close()
        if top is None:
            raise GitError(f"{path} is in a bare repository, not a working tree")
        return cls(Path(top))

    @classmethod
    def init(cls, root: Path, *, bare: bool = False) -> GitRepo:
        """A new repository at ``root`` whose first branch is ``main``."""
        with _command_errors(root):
            git.Repo.init(root, bare=bare, initial_branch=MAIN).close()
        return cls(root)

    @classmethod
    def clone(cls, url: str, target: Path, branch: str | None = None) -> GitRepo:
        """A clone of ``url`` at ``target``, with ``branch`` (default: the remote's) checked out."""
        options = [] if branch is None else [f"--branch={branch}"]
        with _command_errors(target.parent):
            git.Repo.clone_from(url, target, multi_options=options).close()
        return cls(target)

    def close(self) -> None:
        """Stop the git processes kept for reading objects."""
        self._repo.close()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # reading

    def is_clean(self) -> bool:
        """No staged or unstaged change to a tracked file."""
        with _command_errors(self.root):
            return not self._repo.is_dirty(untracked_files=False)

    def rev_parse(self, rev: str) -> str:
        return self._commit(rev).hexsha

    def commit(self, rev: str) -> Commit:
        return _value(self._commit(rev))

    def log(
        self,
        head: str,
        *,
        since: str | None = None,
        path: str | None = None,
        first_parent: bool = False,
        message_pattern: str | None = None,
        limit: int | None = None,
    ) -> list[Commit]:
        """Commits reachable from ``head`` and not from ``since``, newest first.

        Only those that change ``path``, follow first parents, or have a message line matching
        the regular expression ``message_pattern``, when given; at most ``limit``.
        """
        options: dict[str, Any] = {"first_parent": first_parent}
        if message_pattern is not None:
            options["grep"] = message_pattern
        if limit is not None:
            options["max_count"] = limit
        revision = head if since is None else f"{since}..{head}"
        with _command_errors(self.root):
            found = self._repo.iter_commits(revision, paths=path or "", **options)
            return [_value(commit) for commit in found]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``descendant`` has ``ancestor`` in its history (a commit is its own ancestor).

        A commit this repository does not have (one a rewritten history dropped) is an ancestor
        of nothing.
        """
        if ancestor == descendant and len(ancestor) == 40:  # a sha: no need to ask git
            return True
        later = self._commit(descendant)
        try:
            earlier = self._commit(ancestor)
        except GitError:
            return False
        with _command_errors(self.root):
            return self._repo.is_ancestor(earlier, later)

    def merge_base(self, one: str, other: str) -> str:
        with _command_errors(self.root):
            bases = self._repo.merge_base(self._commit(one), self._commit(other))
        if not bases or bases[0] is None:
            raise GitError(f"{one} and {other} have no common ancestor in {self.root}")
        return bases[0].hexsha

    def read_file(self, rev: str, path: str) -> bytes:
        """The content of the file ``path`` at ``rev``."""
        try:
            found = self._commit(rev).tree / path
        except KeyError as exc:
            raise GitError(f"there is no {path} at {rev} in {self.root}") from exc
        if not isinstance(found, git.Blob):
            raise GitError(f"{path} is not a file at {rev} in {self.root}")
        with _command_errors(self.root):
            return _content(found)

    def files(self, rev: str, folder: str) -> dict[str, bytes]:
        """The content of every file under ``folder`` at ``rev``, by repository path."""
        with _command_errors(self.root):
            return {str(item.path): _content(item) for item in self._blobs(rev, folder)}

    def blob_ids(self, rev: str, folder: str) -> dict[str, str]:
        """The blob id (Git's sha of the content) of every file under ``folder`` at ``rev``.

        Reads the trees only: a caller that knows a blob by its id need not read it again.
        """
        return {str(item.path): item.hexsha for item in self._blobs(rev, folder)}

    def _blobs(self, rev: str, folder: str) -> list[git.Blob]:
        """The files under ``folder`` at ``rev`` (none when it is no folder there)."""
        try:
            found = self._commit(rev).tree / folder
        except KeyError:
            return []
        if not isinstance(found, git.Tree):
            return []
        with _command_errors(self.root):
            return [item for item in found.traverse() if isinstance(item, git.Blob)]

    def blob(self, sha: str) -> bytes:
        """The content of the blob ``sha``."""
        try:
            return bytes(self._repo.odb.stream(bytes.fromhex(sha)).read())
        except _LOOKUP_ERRORS as exc:
            raise GitError(f"{sha!r} is not a blob in {self.root}") from exc

    def branch(self, branch: str) -> str | None:
        """The commit of local ``branch`` (in a bare repository: of the branch it holds)."""
        head = git.Head(self._repo, f"refs/heads/{branch}")
        return head.commit.hexsha if head.is_valid() else None

    def verify_commit(self, rev: str, allowed_signers: bytes) -> Signature:
        """The signature of ``rev`` checked against ``allowed_signers``.

        ``allowed_signers`` is the content of an allowed-signers file (``ssh-keygen(1)``, ALLOWED
        SIGNERS), given to git as ``gpg.ssh.allowedSignersFile`` for this one command, whatever
        the repository's configuration says. OpenPGP and X.509 signatures are checked by git's
        configured programs (GnuPG: its keyring, ``GNUPGHOME``); the caller decides whether
        their key counts.
        """
        commit = self._commit(rev)
        armor = (commit.gpgsig or "").lstrip()
        kind = next((f for a, f in _SIGNATURE_FORMATS.items() if armor.startswith(a)), None)
        with tempfile.TemporaryDirectory(prefix="stratops-signers-") as folder:
            signers = Path(folder) / "allowed_signers"
            signers.write_bytes(allowed_signers)
            with _command_errors(self.root):
                said = str(
                    self._repo.git(c=f"gpg.ssh.allowedSignersFile={signers}").log(
                        "-1", "--format=%G?%x00%GS%x00%GF%x00%GP", commit.hexsha
                    )
                )
        code, signer, key, primary = [part.strip() for part in [*said.split("\0"), "", "", ""][:4]]
        status = _SIGNATURE_STATUS.get(code, SignatureStatus.UNKNOWN)
        if kind == "openpgp" and code in _VALID_OPENPGP:
            status = SignatureStatus.GOOD
        if kind is None and status is not SignatureStatus.UNSIGNED:
            status = SignatureStatus.UNKNOWN  # a signature header git reads and we do not
        return Signature(status, kind, signer, key, primary)

    def sign_with(self, key: Path) -> None:
        """Sign every commit made here from now on with the SSH key ``key`` (git config)."""
        with _command_errors(self.root), self._repo.config_writer() as config:
            config.set_value("gpg", "format", "ssh")
            config.set_value("user", "signingkey", str(key.resolve()))
            config.set_value("commit", "gpgsign", "true")

    def user_name(self) -> str | None:
        """``user.name`` of the git configuration, None when unset."""
        try:
            name = self._repo.config_reader().get("user", "name")
        except configparser.Error:
            return None
        return str(name) or None

    # the remote

    def remote_url(self) -> str:
        try:
            return str(self._repo.remote(self.remote).url)
        except ValueError as exc:
            raise GitError(f"{self.root} has no remote {self.remote!r}") from exc

    def add_remote(self, url: str) -> None:
        with _command_errors(self.root):
            self._repo.create_remote(self.remote, url)

    def fetch(self, branch: str | None = None) -> None:
        """Fetch every branch of the remote (forgetting deleted ones), or only ``branch``."""
        refspecs = [] if branch is None else [f"refs/heads/{branch}"]
        with _command_errors(self.root):
            self._repo.git.fetch("--quiet", "--prune", self.remote, *refspecs)

    def remote_main(self) -> str:
        """The commit ``main`` of the remote had at the last fetch.

        Read from the ref files (loose or packed) in process, without a git subprocess: the
        controller asks every tick.
        """
        ref = f"refs/remotes/{self.remote}/{MAIN}"
        try:
            return str(git.SymbolicReference.dereference_recursive(self._repo, ref))
        except _LOOKUP_ERRORS as exc:
            raise GitError(f"{ref!r} is not a commit in {self.root}") from exc

    def remote_branch(self, branch: str) -> str | None:
        """The commit ``branch`` points at on the remote now, None if it does not exist."""
        with _command_errors(self.root):
            out = str(self._repo.git.ls_remote(self.remote, f"refs/heads/{branch}")).split()
        return out[0] if out else None

    # writing

    def commit_file(
        self,
        parent: str | None,
        path: str,
        content: bytes,
        message: str,
        author_date: datetime | None = None,
    ) -> str:
        """A new commit on ``parent`` (None: a first commit) that sets one file to ``content``.

        Nothing but the object database changes: no branch, index or working tree. Author and
        committer are who git would record (``git var``); ``author_date`` defaults to now. With
        ``commit.gpgSign`` configured, the commit is signed (:meth:`_signed`).
        """
        base = None if parent is None else self._commit(parent)
        with _command_errors(self.root):
            blob = self._store("blob", content)
            tree = self._tree_with(
                None if base is None else base.tree, PurePosixPath(path).parts, blob
            )
            made = git.Commit.create_from_tree(
                self._repo,
                git.Tree(self._repo, tree),
                message,
                parent_commits=[] if base is None else [base],
                head=False,
                author=self._identity("GIT_AUTHOR_IDENT"),
                committer=self._identity("GIT_COMMITTER_IDENT"),
                author_date=author_date,
            )
            if self._signing():
                return self._signed(made)
        return made.hexsha

    def revert(
        self, rev: str, onto: str, message: str, author_date: datetime | None = None
    ) -> str | None:
        """A new commit on ``onto`` that undoes ``rev``, as ``git revert -m 1`` would; None
        when the revert conflicts with what changed since.

        ``rev`` (a merge commit, or any commit) must be in the history of ``onto``: its change
        against its first parent is reversed by a three-way merge whose base is ``rev`` (``git
        merge-tree`` of ``onto`` and a scratch commit holding the first parent's tree on top of
        ``rev``). Nothing but the object database changes; signed as :meth:`commit_file`.
        """
        undone, base = self._commit(rev), self._commit(onto)
        if not undone.parents:
            raise GitError(f"{rev} has no parent in {self.root}: there is nothing to revert")
        if not self.is_ancestor(undone.hexsha, base.hexsha):
            raise GitError(f"{rev} is not in the history of {onto} in {self.root}")
        with _command_errors(self.root):
            author = self._identity("GIT_AUTHOR_IDENT")
            committer = self._identity("GIT_COMMITTER_IDENT")
            scratch = git.Commit.create_from_tree(
                self._repo,
                undone.parents[0].tree,
                f"scratch: {undone.hexsha} undone",
                parent_commits=[undone],
                head=False,
                author=author,
                committer=committer,
            )
            status, out, _ = self._repo.git.merge_tree(
                "--write-tree",
                "--no-messages",
                base.hexsha,
                scratch.hexsha,
                with_extended_output=True,
                with_exceptions=False,
            )
            if status == 1:
                return None
            if status != 0:
                raise GitError(f"git merge-tree failed in {self.root} (exit {status}): {out}")
            tree = git.Tree(self._repo, bytes.fromhex(str(out).splitlines()[0].strip()))
            made = git.Commit.create_from_tree(
                self._repo,
                tree,
                message,
                parent_commits=[base],
                head=False,
                author=author,
                committer=committer,
                author_date=author_date,
            )
            if self._signing():
                return self._signed(made)
        return made.hexsha

    def commit_all(self, message: str) -> str:
        """Commit every change of the working tree on the checked-out branch, as ``git commit``."""
        with _command_errors(self.root):
            self._repo.git.add("--all")
            self._repo.git.commit("--quiet", "-m", message)
        return self.rev_parse("HEAD")

    def merge(self, rev: str, message: str) -> str:
        """Merge ``rev`` into the checked-out branch with a merge commit; GitError on conflict."""
        with _command_errors(self.root):
            self._repo.git.merge("--no-ff", "--quiet", "-m", message, rev)
        return self.rev_parse("HEAD")

    def push(self, sha: str, branch: str, expected: str | None) -> None:
        """Point the remote ``branch`` at ``sha`` if it is still at ``expected`` (None: absent)."""
        self._push(f"{sha}:refs/heads/{branch}", branch, expected)

    def publish(self, branch: str) -> None:
        """Push the new local ``branch`` to the remote, which must not have it, and track it."""
        self._push(f"refs/heads/{branch}:refs/heads/{branch}", branch, None, set_upstream=True)

    def delete_remote_branch(self, branch: str, expected: str) -> None:
        self._push(f":refs/heads/{branch}", branch, expected)

    # GitPython

    def _commit(self, rev: str) -> git.Commit:
        try:
            found = self._repo.commit(rev)
        except _LOOKUP_ERRORS as exc:
            raise GitError(f"{rev!r} is not a commit in {self.root}") from exc
        if found.binsha == git.Object.NULL_BIN_SHA:  # GitPython takes it on trust
            raise GitError(f"{rev!r} is not a commit in {self.root}")
        return found

    def _store(self, kind: str, data: bytes) -> bytes:
        stored = self._repo.odb.store(IStream(kind, len(data), BytesIO(data)))
        return bytes(stored.binsha)

    def _tree_with(self, tree: git.Tree | None, parts: tuple[str, ...], blob: bytes) -> bytes:
        """The sha of ``tree`` (None: empty) with the file at ``parts`` pointing at ``blob``."""
        name, below = parts[0], parts[1:]
        entries = {item.name: (item.binsha, item.mode, item.name) for item in tree or ()}
        if below:
            current = tree / name if tree is not None and name in entries else None
            if current is not None and not isinstance(current, git.Tree):
                raise GitError(f"{name} is a file in {self.root}, not a folder")
            entries[name] = (self._tree_with(current, below, blob), _TREE_MODE, name)
        else:
            entries[name] = (blob, _FILE_MODE, name)
        ordered = sorted(
            entries.values(),
            key=lambda entry: entry[2].encode() + (b"/" if entry[1] == _TREE_MODE else b""),
        )
        serialized = BytesIO()
        tree_to_stream(ordered, serialized.write)
        return self._store("tree", serialized.getvalue())

    def _signing(self) -> bool:
        """Whether git is configured to sign commits (``commit.gpgSign``)."""
        try:
            value = self._repo.config_reader().get_value("commit", "gpgsign", False)
        except (configparser.Error, ValueError):
            return False
        return value is True or str(value).lower() in ("true", "yes", "on", "1")

    def _signed(self, commit: git.Commit) -> str:
        """The same commit (tree, parents, author, committer, message), signed as configured.

        ``git commit-tree -S`` signs with ``user.signingKey`` in ``gpg.format``; the message is
        given as a file, so it is kept byte for byte.
        """

        def stamp(seconds: int, offset: float) -> str:  # GitPython's offset: seconds west of UTC
            east = -int(offset)
            sign = "+" if east >= 0 else "-"
            return f"@{seconds} {sign}{abs(east) // 3600:02d}{abs(east) % 3600 // 60:02d}"

        message = commit.message
        text = message.encode() if isinstance(message, str) else message
        env = {
            "GIT_AUTHOR_NAME": commit.author.name or "",
            "GIT_AUTHOR_EMAIL": commit.author.email or "",
            "GIT_AUTHOR_DATE": stamp(commit.authored_date, commit.author_tz_offset),
            "GIT_COMMITTER_NAME": commit.committer.name or "",
            "GIT_COMMITTER_EMAIL": commit.committer.email or "",
            "GIT_COMMITTER_DATE": stamp(commit.committed_date, commit.committer_tz_offset),
        }
        parents = [arg for parent in commit.parents for arg in ("-p", parent.hexsha)]
        with tempfile.NamedTemporaryFile(prefix="stratops-message-") as file:
            file.write(text)
            file.flush()
            sha = self._repo.git.commit_tree(
                "-S", commit.tree.hexsha, *parents, "-F", file.name, env=env
            )
        return str(sha).strip()

    def _identity(self, variable: str) -> git.Actor:
        ident = str(self._repo.git.var(variable))
        match = _IDENT.fullmatch(ident)
        if match is None:
            raise GitError(f"git var {variable} gave {ident!r}, not 'name <email> time zone'")
        return git.Actor(match["name"], match["email"])

    def _push(
        self, refspec: str, branch: str, expected: str | None, *, set_upstream: bool = False
    ) -> None:
        """Push ``refspec`` with a lease on ``branch``; a refusal is :class:`PushRejected`.

        Run as a command and told apart by its ``--porcelain`` status lines: GitPython's
        ``Remote.push`` reads the source of a refspec as a ref, so it reports nothing for the
        bare commits pushed here.
        """
        options = ["--porcelain", f"--force-with-lease=refs/heads/{branch}:{expected or ''}"]
        if set_upstream:
            options.append("--set-upstream")
        with _command_errors(self.root):
            try:
                self._repo.git.push(*options, self.remote, refspec)
            except git.exc.GitCommandError as exc:
                statuses = _captured(exc.stdout).splitlines()
                # "!<tab>src:dst<tab>[rejected] (stale info)", or "[remote rejected]" by a hook
                if any(line.startswith("!") and "rejected]" in line for line in statuses):
                    raise PushRejected(
                        f"the remote refused to update {branch}: it moved meanwhile or a hook "
                        f"declined ({_detail(exc)})"
                    ) from exc
                raise


def _value(commit: git.Commit) -> Commit:
    message = commit.message
    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
    return Commit(
        sha=commit.hexsha,
        parents=tuple(parent.hexsha for parent in commit.parents),
        author=commit.author.name or "",
        author_date=commit.authored_datetime,
        message=text,
        trailers=parse_trailers(text),
    )


def _content(blob: git.Blob) -> bytes:
    return bytes(blob.data_stream.read())


@contextmanager
def _command_errors(where: Path) -> Iterator[None]:
    """GitPython's command failures as :class:`GitError`: the command, the place, git's words."""
    try:
        yield
    except git.exc.GitCommandNotFound as exc:
        raise GitError(f"cannot run git: {exc}") from exc
    except git.exc.CommandError as exc:
        command = next((arg for arg in exc.command[1:] if not str(arg).startswith("-")), "")
        raise GitError(f"git {command} failed in {where}: {_detail(exc)}") from exc


def _detail(exc: git.exc.CommandError) -> str:
    """What git said: its error output, then its output."""
    said = " ".join(_captured(text) for text in (exc.stderr, exc.stdout)).strip()
    return said or str(exc)


def _captured(formatted: str) -> str:
    """The output GitPython captured, without its ``"\\n  stderr: '...'"`` wrapping."""
    _, _, text = formatted.partition(": '")
    return text.removesuffix("'").strip()
