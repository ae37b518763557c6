"""What can go wrong in gitops, arranged by what the caller can do about it.

::

    GitOpsError
    ├── PromotionRefused          fix the input: the request makes no sense here (exit 2)
    │   ├── UnknownStrategy       no StrategyDeployment of that name at the base
    │   ├── UnknownVersion        the registry has no such version (raised by gate evaluators)
    │   ├── IllegalTransition     skips a stage, demotes (that is a rollback) or repeats one
    │   ├── IllegalReallocation   ``--allocation`` of a version not running there, or unchanged
    │   ├── MissingOption         the target stage needs a value the desk does not have yet
    │   ├── DirtyWorkingTree      uncommitted changes in the desk repository
    │   ├── PromotionAlreadyOpen  another promotion PR of the strategy is open
    │   ├── InvalidManifests      the desk (or the edited document) does not validate
    │   ├── ScaffoldRefused       ``stratops init`` into a non-empty folder
    │   └── NotADesk              no desk at --desk, or none above the current folder
    ├── MergeBlocked              a negative verdict: gates or approvals missing (exit 1)
    │   └── AwaitingCI            only CI's gate verdict is missing: merge again later (exit 3)
    ├── GitError                  a git operation failed: the message is git's
    │   └── PushRejected          the remote refused the push (moved meanwhile): retry
    └── ForgeError                the pull-request host failed
        ├── ForgeUnavailable      temporary: unreachable, 5xx, rate limited; retry later
        └── ForgeRejected         permanent: the forge said no (not found, not allowed)

Vendor exceptions (``OSError``, ``urllib.error``, GitPython's ``git.exc``) are translated at the
adapter that meets them (``raise ForgeUnavailable(...) from exc``) and never reach the core.
"""

from __future__ import annotations

from stratops.model.problems import Problem
from stratops.unavailable import Unavailable


class GitOpsError(Exception):
    """Base of every gitops error; ``str(error)`` is a message for people."""


class PromotionRefused(GitOpsError):
    """The request cannot be carried out as given; the message says how to fix it."""


class UnknownStrategy(PromotionRefused):
    pass


class UnknownVersion(PromotionRefused):
    """Raised by a gate evaluator when the registry has no such strategy version."""

    def __init__(self, strategy: str, version: int, known: list[int] | None = None) -> None:
        self.strategy = strategy
        self.version = version
        self.known = known or []
        listed = ", ".join(f"v{v}" for v in sorted(self.known)) or "none"
        super().__init__(
            f"the registry has no version {version} of {strategy!r} (registered: {listed})"
        )


class IllegalTransition(PromotionRefused):
    pass


class IllegalReallocation(PromotionRefused):
    pass


class MissingOption(PromotionRefused):
    pass


class NotADesk(PromotionRefused):
    pass


class DirtyWorkingTree(PromotionRefused):
    pass


class PromotionAlreadyOpen(PromotionRefused):
    def __init__(self, strategy: str, number: int, branch: str) -> None:
        self.number = number
        super().__init__(
            f"pull request #{number} ({branch}) already "
            f"{'reallocates' if branch.endswith('-allocation') else 'promotes'} {strategy!r}: "
            "merge or close it first (`stratops pr show` / `stratops pr close`)"
        )


class InvalidManifests(PromotionRefused):
    def __init__(self, message: str, problems: list[Problem]) -> None:
        self.problems = problems
        details = "\n".join(f"  {problem.render()}" for problem in problems)
        super().__init__(f"{message}:\n{details}")


class ScaffoldRefused(PromotionRefused):
    pass


class MergeBlocked(GitOpsError):
    def __init__(self, number: int, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(f"pull request #{number} cannot merge: " + "; ".join(reasons))


class AwaitingCI(MergeBlocked):
    """Nothing blocks the merge but CI's gate verdict, which is not given yet: retry later."""


class GitError(GitOpsError):
    pass


class PushRejected(GitError):
    pass


class ForgeError(GitOpsError):
    pass


class ForgeUnavailable(ForgeError, Unavailable):
    """Temporary: the same call may succeed later (after ``retry_after`` seconds, if known)."""


class ForgeRejected(ForgeError):
    """Permanent: repeating the call will not help; ``status`` is the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)
