"""The read-only dashboard and its JSON API (``/api/v1/``): a router the HTTP server calls.

Pages are rendered on the server (jinja2, autoescaped); a small script refreshes the desk
table from the API. Nothing is fetched from another origin. Bound to loopback, no token is
asked; bound elsewhere, every page and API call needs the bearer token (``Authorization:
Bearer …``, or ``?token=…`` once in a browser, which sets an HttpOnly cookie).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2
import markupsafe

from stratops.analytics.regimes import WEEKDAYS
from stratops.controller.audit import AuditEvent, BrokenLink
from stratops.controller.observability import Answer
from stratops.status.analysis_charts import run_charts
from stratops.status.collect import DeskStatus
from stratops.status.detail import StrategyDetail
from stratops.status.rows import age

COOKIE = "stratops_token"
# /strategies/NAME/reports/vVERSION/FOLDER/FILE: a file of a report stored with a version
_REPORT_FILE = re.compile(r"/strategies/([^/]+)/reports/v(\d+)/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)")
_REPORT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".json": "application/json",
}
# A stored page is the registry's content, not ours: no script, its own opaque origin.
_SANDBOX = {"Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:", "X-Content-Type-Options": "nosniff"}  # fmt: skip
_ASSETS = resources.files("stratops.status")
_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("stratops.status", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_environment.globals["weekdays"] = WEEKDAYS


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host or "127.0.0.1").is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class AuditView:
    events: list[AuditEvent]
    broken: BrokenLink | None


@dataclass
class Dashboard:
    """What ``/``, ``/strategies/NAME``, ``/audit`` and ``/api/v1/…`` answer.

    ``/strategies/NAME/reports/vN/FOLDER/FILE`` is a file of a report stored with version N,
    served sandboxed (no script runs, nothing else is fetched).
    """

    status: Callable[[], DeskStatus | None]
    strategy: Callable[[str], StrategyDetail | None]
    audit: Callable[[], AuditView]
    report_file: Callable[[str, int, str, str], bytes | None]
    token: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)  # "mlflow" → its UI's URL

    def __call__(self, target: str, headers: Mapping[str, str]) -> Answer | None:
        """The answer to GET ``target`` (path and query), or None for a path not ours."""
        parsed = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        route = self._route(parsed.path)
        if route is None:
            return None
        if self.token is not None:
            given = query.get("token")
            if given is not None and hmac.compare_digest(given, self.token):
                cookie = f"{COOKIE}={given}; HttpOnly; SameSite=Strict; Path=/"
                moved = {"Location": parsed.path, "Set-Cookie": cookie}
                return Answer(303, "text/plain", b"", moved)
            if not self._authorized(headers):
                return Answer(401, "text/plain", b"a bearer token is required\n",
                              {"WWW-Authenticate": 'Bearer realm="stratops"'})  # fmt: skip
        return route(query)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        assert self.token is not None
        lowered = {k.lower(): v for k, v in headers.items()}
        bearer = lowered.get("authorization", "").removeprefix("Bearer ").strip()
        cookies = dict(
            part.strip().split("=", 1)
            for part in lowered.get("cookie", "").split(";")
            if "=" in part
        )
        return any(
            hmac.compare_digest(candidate, self.token)
            for candidate in (bearer, cookies.get(COOKIE, ""))
            if candidate
        )

    def _route(self, path: str) -> Callable[[dict[str, str]], Answer] | None:
        fixed: dict[str, Callable[[dict[str, str]], Answer]] = {
            "/": lambda q: self._page("desk.html", self._desk_context(q)),
            "/audit": lambda q: self._page("audit.html", self._audit_context(q)),
            "/api/v1/status": lambda q: self._json(self.status()),
            "/api/v1/audit": lambda q: self._json(self._audit_data(q, self.audit())),
            "/static/dashboard.js": lambda q: self._asset("dashboard.js", "text/javascript"),
            "/static/dashboard.css": lambda q: self._asset("dashboard.css", "text/css"),
        }
        if path in fixed:
            return fixed[path]
        stored = _REPORT_FILE.fullmatch(path)
        if stored is not None:
            name, version, folder, file = stored.groups()
            return lambda q: self._report(urllib.parse.unquote(name), int(version), folder, file)
        for prefix, page in (("/api/v1/strategies/", False), ("/strategies/", True)):
            if path.startswith(prefix) and path[len(prefix) :]:
                name = urllib.parse.unquote(path[len(prefix) :])
                return lambda q: self._strategy(name, page=page)
        return None

    def _strategy(self, name: str, *, page: bool) -> Answer:
        found = self.strategy(name)
        if found is None:
            return Answer(404, "text/plain", f"no strategy {name!r}\n".encode())
        if not page:
            return self._json(found)
        now = datetime.now(UTC)
        charts = {
            stored.digest: {m: markupsafe.Markup(svg) for m, svg in run_charts(stored.run).items()}
            for stored in found.analyses
        }
        context = {"detail": found, "charts": charts, "age": lambda m: age(m, now)}
        return self._page("strategy.html", context)

    def _report(self, name: str, version: int, folder: str, file: str) -> Answer:
        body = self.report_file(name, version, folder, file)
        if body is None:
            return Answer(404, "text/plain", f"no report file {folder}/{file}\n".encode())
        kind = _REPORT_TYPES.get(file[file.rfind(".") :], "application/octet-stream")
        return Answer(200, kind, body, _SANDBOX)

    def _desk_context(self, query: dict[str, str]) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {"status": self.status(), "filter": query.get("q", ""), "age": lambda m: age(m, now)}

    def _audit_data(self, query: dict[str, str], view: AuditView) -> dict[str, Any]:
        events = [
            e
            for e in view.events
            if query.get("strategy") in (None, "", e.strategy)
            and query.get("action") in (None, "", e.action)
        ]
        return {
            "verified": view.broken is None,
            "broken": None if view.broken is None else view.broken.model_dump(),
            "events": [e.model_dump(mode="json") for e in events[::-1]],
        }

    def _audit_context(self, query: dict[str, str]) -> dict[str, Any]:
        view = self.audit()  # one read of the log (and of its chain) per page
        actions = sorted({e.action for e in view.events})
        return {**self._audit_data(query, view), "query": query, "actions": actions}

    def _page(self, template: str, context: dict[str, Any]) -> Answer:
        html = _environment.get_template(template).render(links=self.links, **context)
        return Answer(200, "text/html; charset=utf-8", html.encode())

    @staticmethod
    def _json(value: Any) -> Answer:
        if value is None:
            return Answer(503, "application/json", b'{"error": "no reconcile tick yet"}\n')
        data = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        return Answer(200, "application/json", json.dumps(data, indent=1).encode() + b"\n")

    @staticmethod
    def _asset(name: str, kind: str) -> Answer:
        return Answer(200, kind, (_ASSETS / "static" / name).read_bytes())
