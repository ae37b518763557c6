"""A fake GitHub: a real HTTP server on a loopback port, with the semantics stratops relies on.

It serves one repository, backed by a real bare Git repository (branch heads, merges), under
``/api/v3`` as GitHub Enterprise Server does. Every request is checked against GitHub's OpenAPI
description before it is served and every response before it is sent: a violation is recorded
in :attr:`FakeGitHub.violations` (the fixture fails the test) and answered with 500.

Semantics: pull requests (create refuses a missing head branch and a second open PR of the same
head; merged PRs are closed with ``merged_at``), reviews (authors cannot review their own PR;
a push to the head dismisses earlier approvals, like branch protection's "dismiss stale
reviews"), issue comments, commit statuses (listed newest first, each with its creator, the
token's login), merges (a real merge commit, 409 when the head is not the expected sha, 405
when it does not merge), the pull requests of a commit, and pagination with ``Link`` headers.
Faults (502s, secondary rate limits) are injected per method and path with
:meth:`FakeGitHub.fail`.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .openapi import github_api

API_PREFIX = "/api/v3"
Answer = tuple[int, Any, dict[str, str]]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]


@dataclass
class _Pull:
    number: int
    id: int
    title: str
    body: str
    user: str
    head_ref: str
    base_ref: str
    head_sha: str
    created_at: str
    state: str = "open"
    updated_at: str = field(default_factory=_now)
    closed_at: str | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    merged_by: str | None = None


class FakeGitHub:
    def __init__(self, bare: Path, repository: str, tokens: dict[str, str]) -> None:
        self.api = github_api()
        self.bare = bare
        self.owner, self.name = repository.split("/")
        self.tokens = tokens  # token → login
        self.violations: list[str] = []
        self.calls: list[str] = []
        self.faults: list[Fault] = []
        self.max_per_page = 100
        self.pulls: dict[int, _Pull] = {}
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        self.comments: dict[int, dict[str, Any]] = {}  # id → comment (with its issue number)
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{API_PREFIX}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (before validation)."""
        self.faults.append(Fault(method, re.compile(path), status, times, headers or {}))

    # HTTP

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.calls.append(f"{method} {target}")
            status, body, extra = self._answer(method, target, headers, raw)
        payload = b"" if body is None else json.dumps(body).encode()
        return status, {"Content-Type": "application/json", **extra}, payload

    def _answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        url = urlsplit(target)
        for fault in self.faults:
            if fault.times and fault.method == method and fault.path.search(url.path):
                fault.times -= 1
                return fault.status, {"message": f"injected {fault.status}"}, fault.headers
        login = self.tokens.get(headers.get("authorization", "").removeprefix("Bearer "))
        if login is None:
            return 401, {"message": "Bad credentials"}, {}
        if not url.path.startswith(API_PREFIX):
            return self._violation(f"{method} {url.path}: not under {API_PREFIX}")
        path = url.path[len(API_PREFIX) :]
        found = self.api.find(method, path)
        if found is None:
            return self._violation(f"{method} {path}: no such operation in the description")
        op, params = found
        query = parse_qs(url.query)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._violation(f"{op.id}: the request body is not JSON")
        problems = self.api.check_request(op, params, query, body)
        if problems:
            return self._violation(*problems)
        route: Callable[..., Answer] | None = getattr(self, "_" + re.sub(r"\W", "_", op.id), None)
        if route is None:
            return self._violation(f"{op.id}: not implemented by the fake")
        if "repo" in params and (params["owner"], params["repo"]) != (self.owner, self.name):
            return 404, {"message": "Not Found"}, {}
        status, answer, extra = route(login, params, query, body)
        if status == 200 and isinstance(answer, list):
            answer, extra = self._page(answer, url.path, query)
        problems = self.api.check_response(op, status, answer)
        if problems:
            return self._violation(*problems)
        return status, answer, extra

    def _violation(self, *problems: str) -> Answer:
        self.violations.extend(problems)
        return 500, {"message": "; ".join(problems)}, {}

    def _page(
        self, items: list[Any], path: str, query: dict[str, list[str]]
    ) -> tuple[list[Any], dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100, self.max_per_page)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        links = []
        if page < last:
            rest = {k: v[0] for k, v in query.items() if k != "page"}
            following = urlencode({**rest, "page": page + 1})
            port = self.server.server_address[1]
            links.append(f'<http://127.0.0.1:{port}{path}?{following}>; rel="next"')
        headers = {"Link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page : page * per_page], headers

    # git

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=self.bare, capture_output=True, text=True, check=False
        )

    def _branch(self, name: str) -> str | None:
        done = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{name}")
        return done.stdout.strip() or None

    def _refresh(self, pull: _Pull) -> _Pull:
        head = self._branch(pull.head_ref) if pull.state == "open" else None
        if head and head != pull.head_sha:
            pull.head_sha = head
            for review in self.reviews.get(pull.number, []):
                if review["state"] == "APPROVED":
                    review["state"] = "DISMISSED"
        return pull

    # JSON shapes

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{API_PREFIX}{path}"

    def _html(self, path: str = "") -> str:
        return f"https://github.example/{self.owner}/{self.name}{path}"

    def _user(self, login: str) -> dict[str, Any]:
        api = self._url(f"/users/{login}")
        return {
            "login": login,
            "id": sum(map(ord, login)),
            "node_id": f"U_{login}",
            "avatar_url": f"https://avatars.github.example/{login}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.example/{login}",
            "type": "User",
            "site_admin": False,
            **{
                f"{name}_url": f"{api}/{name}"
                for name in (
                    "followers",
                    "organizations",
                    "received_events",
                    "repos",
                    "subscriptions",
                )
            },
            **{
                f"{name}_url": f"{api}/{name}{{/other}}"
                for name in ("following", "gists", "starred", "events")
            },
        }

    def _repository(self) -> dict[str, Any]:
        api = self._url(f"/repos/{self.owner}/{self.name}")
        templated = (
            "archive",
            "assignees",
            "blobs",
            "branches",
            "collaborators",
            "comments",
            "commits",
            "compare",
            "contents",
            "git_commits",
            "git_refs",
            "git_tags",
            "issue_comment",
            "issue_events",
            "issues",
            "keys",
            "labels",
            "milestones",
            "notifications",
            "pulls",
            "releases",
            "statuses",
            "trees",
        )
        plain = (
            "contributors",
            "deployments",
            "downloads",
            "events",
            "forks",
            "hooks",
            "languages",
            "merges",
            "stargazers",
            "subscribers",
            "subscription",
            "tags",
            "teams",
        )
        return {
            "id": 42,
            "node_id": "R_42",
            "name": self.name,
            "full_name": f"{self.owner}/{self.name}",
            "owner": self._user(self.owner),
            "private": True,
            "html_url": self._html(),
            "description": None,
            "fork": False,
            "url": api,
            **{f"{name}_url": f"{api}/{name}{{/ref}}" for name in templated},
            **{f"{name}_url": f"{api}/{name}" for name in plain},
            "clone_url": f"{self._html()}.git",
            "git_url": f"git://github.example/{self.owner}/{self.name}.git",
            "ssh_url": f"git@github.example:{self.owner}/{self.name}.git",
            "svn_url": self._html(),
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "default_branch": "main",
            **dict.fromkeys(
                (
                    "forks",
                    "forks_count",
                    "open_issues",
                    "open_issues_count",
                    "size",
                    "stargazers_count",
                    "watchers",
                    "watchers_count",
                ),
                0,
            ),
            **dict.fromkeys(("has_downloads", "has_issues", "has_projects", "has_wiki"), True),
            **dict.fromkeys(("has_pages", "archived", "disabled"), False),
            "license": None,
            "pushed_at": None,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }

    def _side(self, ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{self.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self._user(self.owner),
            "repo": self._repository(),
        }

    def _pull_json(self, pull: _Pull, full: bool = True) -> dict[str, Any]:
        number = pull.number
        api = self._url(f"/repos/{self.owner}/{self.name}/pulls/{number}")
        issue = self._url(f"/repos/{self.owner}/{self.name}/issues/{number}")
        statuses = self._url(f"/repos/{self.owner}/{self.name}/statuses/{pull.head_sha}")
        base_sha = self._branch(pull.base_ref) or pull.head_sha
        data: dict[str, Any] = {
            "url": api,
            "id": pull.id,
            "node_id": f"PR_{pull.id}",
            "html_url": self._html(f"/pull/{number}"),
            "diff_url": self._html(f"/pull/{number}.diff"),
            "patch_url": self._html(f"/pull/{number}.patch"),
            "issue_url": issue,
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": self._url(
                f"/repos/{self.owner}/{self.name}/pulls/comments{{/number}}"
            ),
            "comments_url": f"{issue}/comments",
            "statuses_url": statuses,
            "number": number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self._user(pull.user),
            "body": pull.body,
            "labels": [],
            "milestone": None,
            "assignee": None,
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "head": self._side(pull.head_ref, pull.head_sha),
            "base": self._side(pull.base_ref, base_sha),
            "_links": {
                name: {"href": href}
                for name, href in (
                    ("self", api),
                    ("html", self._html(f"/pull/{number}")),
                    ("issue", issue),
                    ("comments", f"{issue}/comments"),
                    ("review_comments", f"{api}/comments"),
                    ("review_comment", f"{api}/comments{{/number}}"),
                    ("commits", f"{api}/commits"),
                    ("statuses", statuses),
                )
            },
            "author_association": "MEMBER",
            "auto_merge": None,
        }
        if full:
            comments = sum(c["issue"] == number for c in self.comments.values())
            data |= {
                "merged": pull.merged_at is not None,
                "mergeable": pull.state == "open" or None,
                "mergeable_state": "clean" if pull.state == "open" else "unknown",
                "merged_by": self._user(pull.merged_by) if pull.merged_by else None,
                "comments": comments,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 1,
                "deletions": 1,
                "changed_files": 1,
            }
        return data

    def _review_json(self, number: int, review: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": review["id"],
            "node_id": f"PRR_{review['id']}",
            "user": self._user(review["user"]),
            "body": review["body"],
            "state": review["state"],
            "commit_id": review["commit_id"],
            "html_url": self._html(f"/pull/{number}#pullrequestreview-{review['id']}"),
            "pull_request_url": self._url(f"/repos/{self.owner}/{self.name}/pulls/{number}"),
            "_links": {
                "html": {"href": self._html(f"/pull/{number}")},
                "pull_request": {
                    "href": self._url(f"/repos/{self.owner}/{self.name}/pulls/{number}")
                },
            },
            "submitted_at": review["submitted_at"],
            "author_association": "MEMBER",
        }

    def _comment_json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": comment["id"],
            "node_id": f"IC_{comment['id']}",
            "url": self._url(f"/repos/{self.owner}/{self.name}/issues/comments/{comment['id']}"),
            "html_url": self._html(f"/pull/{comment['issue']}#issuecomment-{comment['id']}"),
            "issue_url": self._url(f"/repos/{self.owner}/{self.name}/issues/{comment['issue']}"),
            "body": comment["body"],
            "user": self._user(comment["user"]),
            "created_at": comment["created_at"],
            "updated_at": comment["updated_at"],
            "author_association": "MEMBER",
        }

    # routes, by operationId

    def _pull(self, params: dict[str, str]) -> _Pull | None:
        pull = self.pulls.get(int(params["pull_number"]))
        return self._refresh(pull) if pull else None

    def _users_get_authenticated(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        profile = dict.fromkeys(("bio", "blog", "company", "email", "hireable", "location", "name"))
        counts = dict.fromkeys(("followers", "following", "public_gists", "public_repos"), 0)
        return (
            200,
            {
                **self._user(login),
                **profile,
                **counts,
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
            },
            {},
        )

    def _pulls_create(self, login: str, params: dict[str, str], query: Any, body: Any) -> Answer:
        head = self._branch(body["head"])
        if head is None or self._branch(body["base"]) is None:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "documentation_url": "https://docs.github.com/rest",
                    "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
                },
                {},
            )
        for pull in self.pulls.values():
            if (pull.head_ref, pull.base_ref, pull.state) == (body["head"], body["base"], "open"):
                return (
                    422,
                    {
                        "message": "Validation Failed",
                        "documentation_url": "https://docs.github.com/rest",
                        "errors": [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": "A pull request already exists for "
                                f"{self.owner}:{body['head']}.",
                            }
                        ],
                    },
                    {},
                )
        number = max(self.pulls, default=0) + 1
        pull = _Pull(
            number,
            next(self._ids),
            body.get("title", ""),
            body.get("body", ""),
            login,
            body["head"],
            body["base"],
            head,
            _now(),
        )
        self.pulls[number] = pull
        return 201, self._pull_json(pull), {}

    def _pulls_get(self, login: str, params: dict[str, str], query: Any, body: Any) -> Answer:
        pull = self._pull(params)
        return (200, self._pull_json(pull), {}) if pull else (404, {"message": "Not Found"}, {})

    def _pulls_update(self, login: str, params: dict[str, str], query: Any, body: Any) -> Answer:
        pull = self._pull(params)
        if pull is None:
            return 403, {"message": "Not Found"}, {}
        pull.title = body.get("title", pull.title)
        pull.body = body.get("body", pull.body)
        if body.get("state") == "closed" and pull.state == "open":
            pull.state, pull.closed_at = "closed", _now()
        pull.updated_at = _now()
        return 200, self._pull_json(pull), {}

    def _pulls_list(
        self, login: str, params: dict[str, str], query: dict[str, list[str]], body: Any
    ) -> Answer:
        state = query.get("state", ["open"])[0]
        head = query.get("head", [None])[0]
        pulls = [self._refresh(p) for p in sorted(self.pulls.values(), key=lambda p: -p.number)]
        chosen = [
            self._pull_json(p, full=False)
            for p in pulls
            if state in ("all", p.state) and (head is None or head == f"{self.owner}:{p.head_ref}")
        ]
        return 200, chosen, {}

    def _pulls_list_reviews(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        pull = self._pull(params)
        if pull is None:
            return 200, [], {}
        return (
            200,
            [self._review_json(pull.number, r) for r in self.reviews.get(pull.number, [])],
            {},
        )

    def _pulls_create_review(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        pull = self._pull(params)
        if pull is None:
            return 404, {"message": "Not Found"}, {}
        event = body.get("event")
        state = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
        }.get(event or "")
        problem = None
        if state is None:
            problem = "Pending reviews are not supported by this fake"
        elif login == pull.user and state != "COMMENTED":
            verb = "approve" if state == "APPROVED" else "request changes on"
            problem = f"Can not {verb} your own pull request"
        elif state != "APPROVED" and not body.get("body"):
            problem = f"Body is required for {event}"
        elif pull.state != "open":
            problem = "Can not review a closed pull request"
        if problem:
            return (
                422,
                {
                    "message": "Unprocessable Entity",
                    "documentation_url": "https://docs.github.com/rest",
                    "errors": [problem],
                },
                {},
            )
        review = {
            "id": next(self._ids),
            "user": login,
            "body": body.get("body", ""),
            "state": state,
            "commit_id": pull.head_sha,
            "submitted_at": _now(),
        }
        self.reviews.setdefault(pull.number, []).append(review)
        return 200, self._review_json(pull.number, review), {}

    def _issues_list_comments(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        number = int(params["issue_number"])
        return (
            200,
            [self._comment_json(c) for c in self.comments.values() if c["issue"] == number],
            {},
        )

    def _issues_create_comment(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        number = int(params["issue_number"])
        if number not in self.pulls:
            return 404, {"message": "Not Found"}, {}
        comment = {
            "id": next(self._ids),
            "issue": number,
            "user": login,
            "body": body["body"],
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.comments[comment["id"]] = comment
        return 201, self._comment_json(comment), {}

    def _issues_update_comment(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        comment = self.comments.get(int(params["comment_id"]))
        if comment is None:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "documentation_url": "https://docs.github.com/rest",
                },
                {},
            )
        comment |= {"body": body["body"], "updated_at": _now()}
        return 200, self._comment_json(comment), {}

    def _repos_create_commit_status(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        status = {
            "id": next(self._ids),
            "node_id": "SC_1",
            "url": self._url(f"/repos/{self.owner}/{self.name}/statuses/{params['sha']}"),
            "avatar_url": None,
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "created_at": _now(),
            "updated_at": _now(),
            "creator": self._user(login),
        }
        self.statuses.setdefault(params["sha"], []).append(status)
        return 201, status, {}

    def _repos_list_commit_statuses_for_ref(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        return 200, list(reversed(self.statuses.get(params["ref"], []))), {}

    def _pulls_merge(self, login: str, params: dict[str, str], query: Any, body: Any) -> Answer:
        pull = self._pull(params)
        if pull is None:
            return 404, {"message": "Not Found"}, {}
        if pull.state != "open":
            return 405, {"message": "Pull Request is not mergeable"}, {}
        if body and body.get("sha") not in (None, pull.head_sha):
            return 409, {"message": "Head branch was modified. Review and try the merge again."}, {}
        base = self._branch(pull.base_ref)
        tree = self._git("merge-tree", "--write-tree", str(base), pull.head_sha)
        if tree.returncode != 0:
            return 405, {"message": "Pull Request is not mergeable"}, {}
        message = (
            f"Merge pull request #{pull.number} from {self.owner}/{pull.head_ref}\n\n{pull.title}"
        )
        commit = self._git(
            "commit-tree",
            tree.stdout.split()[0],
            "-p",
            str(base),
            "-p",
            pull.head_sha,
            "-m",
            message,
        ).stdout.strip()
        self._git("update-ref", f"refs/heads/{pull.base_ref}", commit, str(base))
        pull.state, pull.merged_at, pull.closed_at = "closed", _now(), _now()
        pull.merge_commit_sha, pull.merged_by = commit, login
        return (
            200,
            {"sha": commit, "merged": True, "message": "Pull Request successfully merged"},
            {},
        )

    def _repos_list_pull_requests_associated_with_commit(
        self, login: str, params: dict[str, str], query: Any, body: Any
    ) -> Answer:
        sha = params["commit_sha"]
        pulls = [self._refresh(p) for p in self.pulls.values()]
        return (
            200,
            [
                self._pull_json(p, full=False)
                for p in pulls
                if sha in (p.head_sha, p.merge_commit_sha)
            ],
            {},
        )


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.server.fake.handle(self.command, self.path, headers, raw)  # type: ignore[attr-defined]
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
