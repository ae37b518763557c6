"""The last line of defence: a product error no command handled is one line and its exit code.

Each command turns the errors it expects into messages; anything of the product's own error
families that still escapes (a registry error inside ``promote``, a forge outage inside
``gates check``...) is caught here, so no user sees a traceback for a known failure. Unknown
exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

from stratops.cli.output import EXIT_BAD_INPUT, EXIT_NEGATIVE, EXIT_RETRY


def exit_code(exc: BaseException) -> int | None:
    """The README's exit code for ``exc`` (1 verdict, 2 bad input, 3 retry); None: a bug.

    The one mapping: commands that handle their errors themselves take their codes from here.
    """
    from stratops.gitops.errors import AwaitingCI, GitOpsError, MergeBlocked, PushRejected
    from stratops.model.problems import InvalidDocumentError
    from stratops.registry.errors import EvidenceMismatch, RegistryError
    from stratops.runtime.base import RuntimeFailure
    from stratops.unavailable import Unavailable

    if isinstance(exc, (Unavailable, AwaitingCI, PushRejected)):  # the same call may succeed
        return EXIT_RETRY
    if isinstance(exc, (EvidenceMismatch, MergeBlocked)):
        return EXIT_NEGATIVE
    if isinstance(exc, (RegistryError, GitOpsError, RuntimeFailure, InvalidDocumentError)):
        return EXIT_BAD_INPUT
    return None


def one_line(exc: BaseException) -> str:
    """The first line of the error's message, with its stable code when it has one."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    code = getattr(exc, "code", None)
    return f"{text} [{code}]" if isinstance(code, str) and code not in text else text
