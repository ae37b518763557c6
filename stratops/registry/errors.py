"""Errors of the registry, arranged by what the caller can do about them.

::

    RegistryError                 base: everything the registry raises (``code`` is stable)
    ├── RegistryUnavailable       MLflow or its artifact storage cannot be reached or failed:
    │                             retrying later may succeed (an :class:`Unavailable`)
    ├── NotFound                  the strategy, version or evidence does not exist
    ├── BadInput                  the request can never succeed as given: fix the input
    │   └── BundleError           an evidence bundle is invalid; ``problems`` says where and why
    └── EvidenceMismatch          stored evidence no longer matches its digest (tampered or
                                  corrupted); ``problems`` names every file that differs

MLflow's own exceptions never leave the registry: the adapter translates them at its edge with
``raise ... from exc`` (see :mod:`stratops.registry.vendor`).
"""

from __future__ import annotations

from stratops.model.problems import Problem
from stratops.unavailable import Unavailable


class RegistryError(Exception):
    """Base of every registry error; ``code`` is a stable identifier for docs and scripts."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class RegistryUnavailable(RegistryError, Unavailable):
    """MLflow or its artifact storage is unreachable or failing; the call may be retried."""


class NotFound(RegistryError):
    """A strategy, version or piece of evidence does not exist."""


class BadInput(RegistryError):
    """The request is wrong and will stay wrong: the caller must change it."""


class _WithProblems:
    problems: list[Problem]

    @staticmethod
    def render(summary: str, problems: list[Problem]) -> str:
        return "\n".join([summary, *(f"  {p.render()}" for p in problems)])


class BundleError(BadInput, _WithProblems):
    """The evidence bundle is invalid; nothing was registered."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            self.render(f"invalid evidence bundle: {len(problems)} problem(s)", problems),
            "bundle.invalid",
        )


class EvidenceMismatch(RegistryError, _WithProblems):
    """Stored evidence does not match what was registered; ``problems`` names the files."""

    def __init__(self, summary: str, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(self.render(summary, problems), "evidence.mismatch")
