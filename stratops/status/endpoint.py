"""How ``stratops status`` finds a running controller: ``--server``, or the endpoint file.

A controller that serves its API writes ``.stratops/controller/endpoint.json`` (its URL) when
it starts listening and removes it when it stops; a client that finds no file, or cannot reach
the URL in it, computes the status itself.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer

from stratops.files import replace_file

TOKEN_ENV = "STRATOPS_UI_TOKEN"
TOKEN_OPTION = typer.Option(
    "",
    "--token",
    envvar=TOKEN_ENV,
    show_default=False,
    help="Bearer token the dashboard and /api/v1 require (needed to serve them on a "
    "non-loopback address; optional on loopback).",
)


def write_endpoint(path: Path, host: str, port: int) -> None:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    replace_file(path, json.dumps({"url": f"http://{shown}:{port}", "pid": os.getpid()}))


def read_endpoint(path: Path) -> str | None:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    url = found.get("url") if isinstance(found, dict) else None
    return url if isinstance(url, str) else None


class ServerUnreachable(Exception):
    """The controller's API did not answer (or refused the token)."""


def get_json(base: str, path: str, token: str | None, timeout: float = 5.0) -> Any:
    request = urllib.request.Request(base.rstrip("/") + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise ServerUnreachable(f"{base}{path}: {exc.code} {exc.reason}") from exc
    except (OSError, ValueError) as exc:
        raise ServerUnreachable(f"{base}{path}: {exc}") from exc
