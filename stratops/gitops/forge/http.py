"""A small JSON REST client (standard library only): retries, rate limits, pagination.

- 5xx answers and network failures are retried with exponential backoff
  (:mod:`stratops.retry`, :data:`FORGE_RETRY` unless the client is given another policy);
- 403/429 with ``Retry-After`` (a secondary rate limit) wait that long, and 403/429 with
  ``x-ratelimit-remaining: 0`` (the primary limit) wait until ``x-ratelimit-reset``;
- a wait longer than the policy's ``max_wait_seconds`` is not slept: the call fails at once
  with :class:`ForgeUnavailable` carrying ``retry_after``;
- any other 4xx is :class:`ForgeRejected` with the server's message;
- :meth:`RestClient.paginate` follows the ``Link: <...>; rel="next"`` header, and only to the
  configured base URL, so the token never leaves for another host.

The token is sent as ``Authorization: Bearer`` and never appears in an error message.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stratops import __version__
from stratops.gitops.errors import ForgeRejected, ForgeUnavailable
from stratops.retry import (
    RetriesExhausted,
    Retry,
    RetryPolicy,
    call_with_retries,
    retry_after_seconds,
)

_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: Any  # decoded JSON, None when empty

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


FORGE_RETRY = RetryPolicy(attempts=5)  # waits 0.5, 1, 2, 4 s


def retry_decision(outcome: Response | Exception) -> Retry | None:
    """Whether an answer (or a failure to get one) is worth another call, and when."""
    if isinstance(outcome, OSError):  # no answer: unreachable, refused, timed out
        return Retry()
    if isinstance(outcome, Exception) or outcome.status < 400:
        return None
    if outcome.status >= 500:
        return Retry()
    if outcome.status in (403, 429):
        retry_after = retry_after_seconds(outcome.header("retry-after"))
        if retry_after is not None:
            return Retry(after=retry_after)
        if outcome.header("x-ratelimit-remaining") == "0":
            reset = outcome.header("x-ratelimit-reset")
            return Retry(until=float(reset)) if reset and reset.isdigit() else Retry()
    return None


def next_link(link: str | None) -> str | None:
    match = _NEXT_LINK.search(link or "")
    return match.group(1) if match else None


@dataclass
class RestClient:
    base_url: str
    token: str = field(repr=False)
    retry: RetryPolicy = FORGE_RETRY
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    timeout: float = 30.0

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Response:
        """``path`` under the base URL (or a URL the server gave, under the same base)."""
        url = self._url(path, params)
        data = None if body is None else json.dumps(body).encode()
        try:
            response = call_with_retries(
                lambda: self._send(method, url, data),
                self.retry,
                classify=retry_decision,
                sleep=self.sleep,
                clock=self.clock,
            )
        except RetriesExhausted as gave_up:
            raise ForgeUnavailable(
                f"{method} {_path(url)}: {_message(gave_up.last)} "
                f"(after {gave_up.attempts} attempt(s))",
                retry_after=gave_up.retry_after,
            ) from gave_up
        if response.status >= 400:
            raise ForgeRejected(f"{method} {_path(url)}: {_message(response)}", response.status)
        return response

    def paginate(self, path: str, params: Mapping[str, str | int] | None = None) -> list[Any]:
        """Every item of a list endpoint, following ``rel="next"`` links."""
        items: list[Any] = []
        url: str | None = path
        query: Mapping[str, str | int] | None = {**(params or {}), "per_page": 100}
        while url is not None:
            response = self.request("GET", url, params=query)
            if not isinstance(response.body, list):
                raise ForgeRejected(f"GET {_path(url)}: expected a list, got {response.body!r:.80}")
            items.extend(response.body)
            url, query = next_link(response.header("link")), None
        return items

    def _url(self, path: str, params: Mapping[str, str | int] | None) -> str:
        base = self.base_url.rstrip("/")
        if "://" in path:
            if not path.startswith(base + "/"):
                raise ForgeRejected(f"refusing to follow {path}: not under {base}")
            url = path
        else:
            url = base + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def _send(self, method: str, url: str, data: bytes | None) -> Response:
        """One HTTP exchange; no answer at all raises ``OSError`` (``URLError`` is one)."""
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("User-Agent", f"stratops/{__version__}")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status, headers, raw = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, exc.headers, exc.read()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode("utf-8", "replace")
        return Response(status, {k.lower(): v for k, v in headers.items()}, decoded)


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def _message(response: object) -> str:
    """What the server said, or (an ``OSError``) why it said nothing."""
    if not isinstance(response, Response):
        return f"no answer ({getattr(response, 'reason', response)})"
    body = response.body
    if isinstance(body, dict):
        message = str(body.get("message", ""))
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            details = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
            )
            message = f"{message} ({details})"
        return f"{response.status} {message}".strip()
    return f"{response.status} {body or ''}".strip()
