"""The one "temporarily unavailable, retry" outcome of the whole product.

Every adapter that meets an outage (MLflow or its artifact store, the forge, the runtime, the
Kubernetes API) raises its own error family's unavailable error, and each of those is also an
:class:`Unavailable`. Callers decide on this one type: the controller lets the affected
strategies wait for a later tick while the others proceed, and every command exits 3 ("retry")
on it. ``retry_after`` carries the delay the service asked for, when it said.
"""

from __future__ import annotations


class Unavailable(Exception):
    """A service is temporarily unavailable: the same call may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
