"""The edge where MLflow's exceptions become stratops errors.

Every call into MLflow runs inside :func:`translated`, so vendor exceptions never reach callers:
a missing resource becomes :class:`NotFound`, a rejected request :class:`BadInput`, anything
about reaching or running the server or the artifact store :class:`RegistryUnavailable`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout

import requests
from mlflow.exceptions import MlflowException, RestException
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from stratops.registry.errors import BadInput, NotFound, RegistryError, RegistryUnavailable

NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
BAD_INPUT_CODES = frozenset(
    {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_ALREADY_EXISTS", "INVALID_STATE"}
)


VendorError = (MlflowException, requests.RequestException, OSError, SQLAlchemyError)


def translate(
    exc: MlflowException | requests.RequestException | OSError | SQLAlchemyError, doing: str
) -> RegistryError:
    """The stratops error for an exception raised while ``doing`` something in MLflow."""
    if isinstance(exc, MlflowException):
        message = exc.message.splitlines()[0] if exc.message else str(exc)
        if exc.error_code in NOT_FOUND_CODES:
            return NotFound(f"cannot {doing}: {message}", "registry.not_found")
        if exc.error_code in BAD_INPUT_CODES:
            return BadInput(f"cannot {doing}: {message}", "registry.rejected")
        kind = (
            "the MLflow server failed"
            if isinstance(exc, RestException)
            else "MLflow failed or is unreachable"
        )
        return RegistryUnavailable(f"cannot {doing}: {kind}: {message}", "registry.unavailable")
    if isinstance(exc, SQLAlchemyError):  # the backend database itself (SQLite, PostgreSQL)
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if isinstance(exc, OperationalError) and "locked" in detail:
            return RegistryUnavailable(
                f"cannot {doing}: the registry database is busy: {detail}", "registry.busy"
            )
        return RegistryError(
            f"cannot {doing}: the registry database is unusable: {detail}", "registry.database"
        )
    if isinstance(exc, requests.RequestException):
        return RegistryUnavailable(
            f"cannot {doing}: MLflow is unreachable: {exc}", "registry.unreachable"
        )
    return RegistryUnavailable(f"cannot {doing}: storage error: {exc}", "registry.storage")


@contextmanager
def translated(doing: str) -> Iterator[None]:
    """Run MLflow calls, re-raising their exceptions as stratops errors.

    Other exceptions are bugs and propagate unchanged. What MLflow prints (run URLs) goes to
    stderr: stdout belongs to the command's output.
    """
    try:
        with redirect_stdout(sys.stderr):
            yield
    except VendorError as exc:
        raise translate(exc, doing) from exc
