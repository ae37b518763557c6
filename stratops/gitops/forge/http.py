"""A small JSON REST client (standard library only): retries, rate limits, pagination.

- 5xx answers and network failures are retried with exponential backoff;
- 403/429 with ``Retry-After`` (a secondary rate limit) wait that long, and 403/429 with
  ``x-ratelimit-remaining: 0`` (the primary limit) wait until ``x-ratelimit-reset``;
- a wait longer than :attr:`RetryPolicy.max_wait` is not slept: the call fails at once with
  :class:`ForgeUnavailable` carrying ``retry_after``;
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

_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: Any  # decoded JSON, None when empty

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_wait: float = 60.0  # waits beyond this are not slept: the call fails, retry_after set


def retry_delay(
    response: Response | None, attempt: int, policy: RetryPolicy, now: float
) -> float | None:
    """Seconds to wait before trying again (``response`` None: no answer), None: do not retry."""
    backoff = policy.backoff * 2.0**attempt
    if response is None or response.status >= 500:
        return backoff
    if response.status in (403, 429):
        retry_after = response.header("retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        if response.header("x-ratelimit-remaining") == "0":
            reset = response.header("x-ratelimit-reset")
            return max(0.0, float(reset) - now) if reset and reset.isdigit() else backoff
    return None


def next_link(link: str | None) -> str | None:
    match = _NEXT_LINK.search(link or "")
    return match.group(1) if match else None


@dataclass
class RestClient:
    base_url: str
    token: str = field(repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
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
        for attempt in range(self.retry.attempts):
            response, failure = self._send(method, url, data)
            if response is not None and response.status < 400:
                return response
            delay = retry_delay(response, attempt, self.retry, self.clock())
            why = failure or _message(response)
            if delay is None:
                assert response is not None
                raise ForgeRejected(f"{method} {_path(url)}: {why}", response.status)
            if attempt + 1 == self.retry.attempts or delay > self.retry.max_wait:
                raise ForgeUnavailable(
                    f"{method} {_path(url)}: {why} (after {attempt + 1} attempt(s))",
                    retry_after=delay,
                )
            self.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

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

    def _send(self, method: str, url: str, data: bytes | None) -> tuple[Response | None, str]:
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
        except (urllib.error.URLError, OSError) as exc:
            return None, f"no answer ({getattr(exc, 'reason', exc)})"
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode("utf-8", "replace")
        return Response(status, {k.lower(): v for k, v in headers.items()}, decoded), ""


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def _message(response: Response | None) -> str:
    if response is None:
        return "no answer"
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
