"""The GitHub forge: pull requests, reviews, comments and statuses through the REST API.

Works with github.com and GitHub Enterprise Server (``base_url`` such as
``https://ghe.example/api/v3``). It acts as the user of its token: pull requests are opened
and reviews given by that user. Responses are translated into stratops values here; a response
that does not have the expected shape is :class:`ForgeRejected`, never a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from stratops.gitops.errors import ForgeRejected
from stratops.gitops.forge.http import RestClient
from stratops.gitops.forge.models import (
    Comment,
    CommitStatus,
    NewPullRequest,
    NewReview,
    PullRequest,
    PullState,
    Review,
    ReviewState,
    StatusState,
    latest_statuses,
)

T = TypeVar("T")

_EVENTS = {
    ReviewState.APPROVED: "APPROVE",
    ReviewState.CHANGES_REQUESTED: "REQUEST_CHANGES",
    ReviewState.COMMENTED: "COMMENT",
}
_LIST_STATE = {PullState.OPEN: "open", PullState.CLOSED: "closed", PullState.MERGED: "closed"}
ACTIONS_BOT = "github-actions[bot]"
"""Who a workflow's ``GITHUB_TOKEN`` acts as: the default CI identity."""


def _translate(convert: Callable[[Any], T], data: Any) -> T:
    try:
        return convert(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ForgeRejected(f"unexpected answer from GitHub ({type(exc).__name__}: {exc})") from exc


def _login(user: Any) -> str:
    return str(user["login"]) if user else "ghost"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _pull(data: Any) -> PullRequest:
    merged = data.get("merged_at") is not None
    return PullRequest(
        number=data["number"],
        title=data["title"],
        body=data.get("body") or "",
        author=_login(data.get("user")),
        head_branch=data["head"]["ref"],
        head_sha=data["head"]["sha"],
        base_branch=data["base"]["ref"],
        state=PullState.MERGED if merged else PullState(data["state"]),
        url=data["html_url"],
        merge_sha=data.get("merge_commit_sha") if merged else None,
        merged_at=_time(data["merged_at"]) if merged else None,
    )


def _review(data: Any) -> Review:
    return Review(
        id=data["id"],
        reviewer=_login(data.get("user")),
        state=ReviewState(str(data["state"]).lower()),
        commit_sha=data.get("commit_id") or "",
        submitted_at=_time(data["submitted_at"]),
        body=data.get("body") or "",
    )


def _comment(data: Any) -> Comment:
    return Comment(id=data["id"], author=_login(data.get("user")), body=data.get("body") or "")


def _status(data: Any) -> CommitStatus:
    return CommitStatus(
        context=data["context"],
        state=StatusState(data["state"]),
        creator=_login(data.get("creator")),
        description=data.get("description") or "",
    )


class GitHubForge:
    """Pull requests of ``repository`` (``owner/name``) through ``client``.

    ``ci`` is the login CI's statuses are created by: the workflow's ``GITHUB_TOKEN`` by default.
    """

    def __init__(self, client: RestClient, repository: str, *, ci: str = ACTIONS_BOT) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ForgeRejected(f"expected a repository as owner/name, got {repository!r}")
        self.client = client
        self.owner = owner
        self.repo = f"/repos/{owner}/{name}"
        self.ci = ci
        self._identity: str | None = None

    def identity(self) -> str:
        if self._identity is None:
            body = self.client.request("GET", "/user").body
            self._identity = _translate(lambda d: str(d["login"]), body)
        return self._identity

    def ci_identity(self) -> str:
        return self.ci

    def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        payload = {
            "title": new.title,
            "body": new.body,
            "head": new.head_branch,
            "base": new.base_branch,
        }
        response = self.client.request("POST", f"{self.repo}/pulls", body=payload)
        return _translate(_pull, response.body)

    def update_pull_request(
        self, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest:
        changes = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
        return self._patch_pull(number, changes)

    def close_pull_request(self, number: int) -> PullRequest:
        return self._patch_pull(number, {"state": "closed"})

    def _patch_pull(self, number: int, changes: dict[str, str]) -> PullRequest:
        response = self.client.request("PATCH", f"{self.repo}/pulls/{number}", body=changes)
        return _translate(_pull, response.body)

    def get_pull_request(self, number: int) -> PullRequest:
        return _translate(_pull, self.client.request("GET", f"{self.repo}/pulls/{number}").body)

    def list_pull_requests(
        self, *, state: PullState | None = PullState.OPEN, head_branch: str | None = None
    ) -> list[PullRequest]:
        params: dict[str, str | int] = {"state": _LIST_STATE[state] if state else "all"}
        if head_branch is not None:
            params["head"] = f"{self.owner}:{head_branch}"
        pulls = [
            _translate(_pull, item) for item in self.client.paginate(f"{self.repo}/pulls", params)
        ]
        return sorted(
            (pr for pr in pulls if state is None or pr.state is state), key=lambda pr: pr.number
        )

    def pull_requests_of_commit(self, sha: str) -> list[PullRequest]:
        items = self.client.paginate(f"{self.repo}/commits/{sha}/pulls")
        return [_translate(_pull, item) for item in items]

    def upsert_comment(self, number: int, marker: str, body: str, author: str) -> Comment:
        comments = self.client.paginate(f"{self.repo}/issues/{number}/comments")
        existing = next((c for c in comments if marker in (c.get("body") or "")), None)
        if existing is None:
            path, method = f"{self.repo}/issues/{number}/comments", "POST"
        else:
            path, method = f"{self.repo}/issues/comments/{existing['id']}", "PATCH"
        return _translate(_comment, self.client.request(method, path, body={"body": body}).body)

    def set_commit_status(self, sha: str, status: CommitStatus) -> None:
        body = status.model_dump(mode="json", exclude={"creator"})  # GitHub records the token's
        self.client.request("POST", f"{self.repo}/statuses/{sha}", body=body)

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        items = self.client.paginate(f"{self.repo}/commits/{sha}/statuses")  # newest first
        return latest_statuses(_translate(_status, item) for item in reversed(items))

    def submit_review(self, number: int, review: NewReview) -> Review:
        if review.reviewer != self.identity():
            raise ForgeRejected(
                f"the GitHub token belongs to {self.identity()}, who cannot review as "
                f"{review.reviewer}"
            )
        payload = {"event": _EVENTS[review.state], "body": review.body}
        response = self.client.request("POST", f"{self.repo}/pulls/{number}/reviews", body=payload)
        return _translate(_review, response.body)

    def list_reviews(self, number: int) -> list[Review]:
        items = self.client.paginate(f"{self.repo}/pulls/{number}/reviews")
        return [_translate(_review, item) for item in items if item.get("state") != "PENDING"]

    def merge(self, number: int, *, expected_head_sha: str) -> PullRequest:
        self.client.request(
            "PUT",
            f"{self.repo}/pulls/{number}/merge",
            body={"sha": expected_head_sha, "merge_method": "merge"},
        )
        return self.get_pull_request(number)
