"""``stratops init``, ``promote``, ``pr ...`` and ``gates check``: promotion as pull requests.

Exit codes: 0 ok; 1 a negative verdict (a gate fails, the review rules block a merge); 2 bad
input (illegal transition, unknown strategy or version, dirty working tree, an open promotion,
invalid manifests, a forge refusal); 3 a temporary failure (the forge is unreachable, the
remote kept moving, ``pr merge`` waits for CI's gate verdict): the same command may succeed
later.

The gate evaluator is injected: ``register(app, evaluator=factory)`` where ``factory(desk_root)``
returns a :data:`~stratops.gitops.evaluation.GateEvaluator`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from pydantic import ValidationError

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.errors import exit_code
from stratops.cli.gates import evaluate_command
from stratops.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_NEGATIVE,
    EXIT_RETRY,
    OUTPUT_OPTION,
    REPORT_OPTION,
    FreeText,
    OutputFormat,
    ReportFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stderr,
    stdout,
)
from stratops.cli.values import amount, version_argument
from stratops.examples import example_manifests
from stratops.gitops.errors import (
    AwaitingCI,
    GitOpsError,
    InvalidManifests,
)
from stratops.gitops.evaluation import GateEvaluator
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import NewReview, PullState, ReviewState
from stratops.gitops.forge.select import ForgeKind, open_forge
from stratops.gitops.gates_check import check_gates, publish
from stratops.gitops.git import GitRepo
from stratops.gitops.plan import PromotionRequest, ReallocationRequest
from stratops.gitops.promote import promote
from stratops.gitops.pulls import (
    merge_pull_request,
    merge_readiness,
    open_pull_request,
    review_pull_request,
)
from stratops.gitops.scaffold import init_desk
from stratops.model.base import Stage

GateEvaluatorFactory = Callable[[Path], GateEvaluator]
"""Builds the gate evaluator for the desk repository at the given root."""

FORGE_OPTION = typer.Option(
    ForgeKind.AUTO,
    "--forge",
    envvar="STRATOPS_FORGE",
    help="auto: local when origin is a local bare repository, else github (GITHUB_TOKEN, "
    "GITHUB_API_URL, GITHUB_REPOSITORY).",
)
AS_OPTION = typer.Option(
    None, "--as", help="Who acts (default: the forge's user, git config user.name, or $USER)."
)
NUMBER_ARGUMENT = typer.Argument(..., min=1, help="Pull request number.")


class ListState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"
    ALL = "all"


@contextmanager
def _handled() -> Iterator[None]:
    """Errors as messages on stderr and documented exit codes, never tracebacks."""
    try:
        yield
    except InvalidManifests as exc:
        render_problems(exc.problems)
        fail(str(exc).splitlines()[0], EXIT_BAD_INPUT)
    except GitOpsError as exc:
        code = exit_code(exc)
        assert code is not None  # every product error has its code
        if isinstance(exc, AwaitingCI):
            fail(f"{exc} (temporary: merge again once CI has published its verdict)", code)
        fail(f"{exc} (temporary: try again)" if code == EXIT_RETRY else str(exc), code)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])} {e['input']!r}: {e['msg']}"
            if isinstance(e.get("input"), (str, int, float))
            else f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors()
        )
        fail(problems, EXIT_BAD_INPUT)


def _who(repo: GitRepo, forge: Forge, given: str | None) -> str:
    who = given or forge.identity() or repo.user_name() or os.environ.get("USER")
    if not who:
        fail("cannot tell who you are: pass --as NAME", EXIT_BAD_INPUT)
    return who


def _desk(desk: Path | None, kind: ForgeKind) -> tuple[GitRepo, Forge]:
    repo = GitRepo.discover(desk_root(desk))
    return repo, open_forge(repo, kind, os.environ)


class _Commands:
    """The commands that evaluate gates, bound to the injected evaluator factory."""

    def __init__(self, evaluator: GateEvaluatorFactory | None) -> None:
        self.factory = evaluator

    def evaluator(self, root: Path) -> GateEvaluator:
        if self.factory is None:
            fail(
                "no gate evaluator is configured: stratops.cli.gitops.register(app, "
                "evaluator=...) wires one",
                EXIT_BAD_INPUT,
            )
        return self.factory(root)

    def promote(
        self,
        strategy: str = typer.Argument(..., help="Strategy name (its metadata.name)."),
        version: int = version_argument("Registered version to promote (or reallocate)."),
        to: Stage | None = typer.Option(
            None,
            "--to",
            help="Target stage, one step up: paper → canary → live (live drops the canary "
            "entry). Without --to, --allocation changes the capital where VERSION runs.",
        ),
        allocation: float | None = typer.Option(
            None,
            "--allocation",
            callback=amount,
            help="With --to: capital in the target stage (default: its current one). Without "
            "--to: the new capital of the stage where VERSION runs, raised or cut through a "
            "pull request (within the policy's maxAllocation; a raise needs the approvals of "
            "a promotion to that stage).",
        ),
        stage: Stage | None = typer.Option(
            None,
            "--stage",
            help="Without --to: the stage whose allocation changes (default: the highest "
            "stage running VERSION, e.g. canary when it also paper trades).",
        ),
        analysis: str | None = typer.Option(
            None,
            "--analysis",
            help="AnalysisTemplate of a new canary (default: the current one); with --to live, "
            "the one whose haltOn guards live (default: the canary's).",
        ),
        min_duration: str | None = typer.Option(
            None, "--min-duration", help="Minimum canary duration, e.g. 24h."
        ),
        reason: str = typer.Option("", "--reason", help="Why: in the commit and the PR."),
        override_rollback: bool = typer.Option(
            False,
            "--override-rollback",
            help="Bring back a version rolled back from canary (the PR says so; reviewers "
            "approve it).",
        ),
        desk: Path | None = DESK_OPTION,
        forge: ForgeKind = FORGE_OPTION,
        author: str | None = AS_OPTION,
        output: OutputFormat = OUTPUT_OPTION,
    ) -> None:
        """Open (or update) the pull request promoting STRATEGY VERSION, or changing its capital.

        Gates run locally first: when they fail, nothing is pushed (exit 1). --to live drops
        the canary entry and needs the live gates (a passed canary analysis among them). A
        reallocation (--allocation without --to) is not gated; its pull request merges with the
        approvals the policy asks of a promotion to that stage for a raise, none for a cut.

        Example: stratops promote btc-trend 5 --to canary --reason 'passed paper'

        Example: stratops promote btc-trend 5 --to live --allocation 1000000

        Example: stratops promote btc-trend 5 --allocation 80000 --reason 'healthy for a week'
        """
        with _handled():
            request = _promotion_request(
                strategy,
                version,
                to,
                allocation,
                stage,
                analysis,
                min_duration,
                reason,
                override_rollback,
            )
            repo, host = _desk(desk, forge)
            as_of = datetime.now(UTC).replace(microsecond=0)
            done = promote(
                repo,
                host,
                self.evaluator(repo.root),
                request,
                author=_who(repo, host, author),
                as_of=as_of,
            )
        pull = done.pull_request
        report = done.report
        promoted = {
            "branch": done.plan.branch,
            "commit": done.commit,
            "opened": done.opened,
            "pullRequest": pull.model_dump(mode="json") if pull else None,
            "gateReport": report.to_json() if report is not None else None,
            "change": {
                "kind": done.plan.change.kind.value,
                "stage": done.plan.target_stage.value,
                "fromAllocation": done.plan.change.from_allocation,
                "allocation": done.plan.change.allocation,
            },
        }
        emit(
            promoted,
            output,
            lambda: typer.echo(
                report.markdown()
                if report is not None
                else f"{done.plan.title}: {done.plan.transition} (not gated)"
            ),
        )
        if pull is None:
            fail("the gates fail: nothing was pushed and no pull request opened", EXIT_NEGATIVE)
        verb = "opened" if done.opened else "updated"
        stderr.print(f"{verb} pull request #{pull.number} ({pull.head_branch}): {pull.url}")

    def gates_check(
        self,
        base: str = typer.Option(..., "--base", help="Base commit or branch (e.g. origin/main)."),
        head: str = typer.Option("HEAD", "--head", help="Head commit or branch."),
        desk: Path | None = DESK_OPTION,
        output: ReportFormat = REPORT_OPTION,
        publish_to: bool = typer.Option(
            False,
            "--publish",
            help="Record the verdict as the stratops/gates status of the head and keep the "
            "gate comment of its open pull requests up to date: what CI does. Only the "
            "verdict of the forge's CI identity counts for a merge.",
        ),
        forge: ForgeKind = FORGE_OPTION,
        author: str | None = typer.Option(
            None,
            "--as",
            help="Who publishes: CI (on the local forge `ci`, or $STRATOPS_CI_IDENTITY; on "
            "GitHub the token's identity, github-actions[bot] in a workflow).",
        ),
    ) -> None:
        """Evaluate the gates of every promotion between BASE and HEAD.

        As of the head commit's author date. Exit 1 when a gate fails, 2 when the manifests
        at the head are invalid. The markdown is appended to $GITHUB_STEP_SUMMARY when set.

        Example: stratops gates check --base origin/main --head HEAD
        """
        with _handled():
            repo = GitRepo.discover(desk_root(desk))
            result = check_gates(repo, self.evaluator(repo.root), base, head)
            if publish_to:
                host = open_forge(repo, forge, os.environ)
                numbers = publish(host, result, _who(repo, host, author))
                stderr.print(f"published to pull request(s): {numbers or 'none open'}")
        markdown = result.markdown()
        emit(result.to_json(), output, lambda: typer.echo(markdown))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as out:
                out.write(markdown)
        if not result.passed:
            raise typer.Exit(EXIT_NEGATIVE)


def _promotion_request(
    strategy: str,
    version: int,
    to: Stage | None,
    allocation: float | None,
    stage: Stage | None,
    analysis: str | None,
    min_duration: str | None,
    reason: str,
    override_rollback: bool = False,
) -> PromotionRequest | ReallocationRequest:
    """The request the options make; a combination that means nothing is exit 2."""
    if to is not None:
        if stage is not None:
            fail(
                "--stage names the stage of a reallocation (--allocation without --to); with "
                f"--to the stage is the target ({to.value})",
                EXIT_BAD_INPUT,
            )
        return PromotionRequest(
            strategy=strategy,
            version=version,
            target_stage=to,
            allocation=allocation,
            analysis=analysis,
            min_duration=min_duration,
            reason=reason,
            override_rollback=override_rollback,
        )
    if override_rollback:
        fail("--override-rollback belongs to a promotion (--to STAGE)", EXIT_BAD_INPUT)
    if allocation is None:
        fail(
            "pass --to STAGE to promote, or --allocation N (without --to) to change the capital "
            "of the stage where the version runs",
            EXIT_BAD_INPUT,
        )
    if analysis is not None or min_duration is not None:
        fail("--analysis and --min-duration belong to a promotion (--to canary)", EXIT_BAD_INPUT)
    return ReallocationRequest(
        strategy=strategy, version=version, allocation=allocation, stage=stage, reason=reason
    )


def init(
    directory: Path = typer.Argument(..., help="New or empty folder for the desk repository."),
    manifests: Path = typer.Option(
        None,
        "--manifests",
        help="Manifests to start from (strategies/, policy/, analysis/). Default: the example "
        "desk.",
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Scaffold a desk repository with a local remote and forge, from the example desk.

    Example: stratops init my-desk
    """
    with _handled():
        made = init_desk(directory, manifests or example_manifests())

    def human() -> None:
        stdout.print(f"[green]desk ready:[/] {made.root} (main at {made.commit[:12]})")
        stdout.print(f"origin: {made.remote}\npull requests: {made.forge}\n")
        stdout.print(
            "next steps (the README's quick start):\n"
            f"  cd {made.root}\n"
            "  stratops backtest --strategy trend --data binance-1h --sweep "
            "--evidence-out ../evidence --model-out ../model\n"
            "  stratops register btc-trend --type trend --evidence ../evidence --model ../model\n"
            "  stratops promote btc-trend 1 --to paper --reason 'why'   # opens a pull request\n"
            "  stratops gates check --base origin/main --head origin/promote/btc-trend/v1-paper "
            "--publish --as ci   # CI\n"
            "  stratops pr approve 1 --as REVIEWER                      # not the author\n"
            "  stratops pr merge 1\n"
            "  stratops controller run --once                           # starts paper trading",
            highlight=False,
            markup=False,
        )

    emit(asdict(made), output, human)


def pr_list(
    state: ListState = typer.Option(ListState.OPEN, "--state", help="Which pull requests."),
    desk: Path | None = DESK_OPTION,
    forge: ForgeKind = FORGE_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """List the desk's pull requests.

    Example: stratops pr list --state all
    """
    with _handled():
        _repo, host = _desk(desk, forge)
        pulls = host.list_pull_requests(
            state=None if state is ListState.ALL else PullState(state.value)
        )
    table = new_table("Pull requests", "#", "state", FreeText("title"), "author", "branch")
    for pull in pulls:
        table.add_row(str(pull.number), pull.state.value, pull.title, pull.author, pull.head_branch)
    emit([pull.model_dump(mode="json") for pull in pulls], output, lambda: stdout.print(table))


def pr_create(
    head: str = typer.Option(..., "--head", help="The pushed branch to merge into main."),
    title: str = typer.Option(..., "--title", help="What it changes and why."),
    body: str = typer.Option("", "--body", help="The description."),
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
    forge: ForgeKind = FORGE_OPTION,
) -> None:
    """Open a pull request of a pushed branch, e.g. a policy change (promote opens its own).

    A change of the GatePolicy or an AnalysisTemplate merges only with the approvals of the
    policy's owners, never the author's.

    Example: stratops pr create --head policy/quick-canary --title 'Policy: ...'
    """
    with _handled():
        repo, host = _desk(desk, forge)
        pull = open_pull_request(
            repo, host, head, title=title, body=body, author=_who(repo, host, who)
        )
    stdout.print(f"opened #{pull.number}: {pull.head_branch} → {pull.base_branch}")


def pr_show(
    number: int = NUMBER_ARGUMENT,
    desk: Path | None = DESK_OPTION,
    forge: ForgeKind = FORGE_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Show a pull request: its reviews, gate status and what still blocks the merge.

    Example: stratops pr show 1
    """
    with _handled():
        repo, host = _desk(desk, forge)
        pull, readiness = merge_readiness(repo, host, number)
        blockers = readiness.reasons
        reviews = host.list_reviews(number)
        statuses = host.commit_statuses(pull.head_sha)
    shown = {
        "pullRequest": pull.model_dump(mode="json"),
        "reviews": [r.model_dump(mode="json") for r in reviews],
        "statuses": [s.model_dump(mode="json") for s in statuses],
        "mergeBlockers": blockers,
    }

    def human() -> None:
        stdout.print(f"#{pull.number} {pull.title} [{pull.state.value}]", markup=False)
        stdout.print(
            f"{pull.author} wants {pull.head_branch} ({pull.head_sha[:12]}) in {pull.base_branch}"
            f"\n{pull.url}",
            markup=False,
        )
        for status in statuses:
            stdout.print(
                f"status {status.context} by {status.creator}: {status.state.value} "
                f"{status.description}",
                markup=False,
            )
        table = new_table("Reviews", "#", "reviewer", "state", "on", FreeText("comment"))
        for review in reviews:
            table.add_row(
                str(review.id),
                review.reviewer,
                review.state.value,
                review.commit_sha[:12],
                review.body,
            )
        stdout.print(table)
        if pull.state is PullState.OPEN:
            blocked = "ready to merge" if not blockers else "blocked: " + "; ".join(blockers)
            stdout.print(blocked, markup=False)
        typer.echo("\n" + pull.body)

    emit(shown, output, human)


def _review(
    number: int,
    state: ReviewState,
    who: str | None,
    comment: str,
    desk: Path | None,
    kind: ForgeKind,
) -> None:
    with _handled():
        repo, host = _desk(desk, kind)
        review = review_pull_request(
            host, number, NewReview(reviewer=_who(repo, host, who), state=state, body=comment)
        )
    stdout.print(f"{review.reviewer}: {review.state.value} #{number} at {review.commit_sha[:12]}")


def pr_approve(
    number: int = NUMBER_ARGUMENT,
    who: str | None = AS_OPTION,
    comment: str = typer.Option("", "--comment", help="What you checked."),
    desk: Path | None = DESK_OPTION,
    forge: ForgeKind = FORGE_OPTION,
) -> None:
    """Approve the evidence of a pull request (not your own); a new push dismisses it.

    Example: stratops pr approve 1 --as alice --comment 'evidence checked'
    """
    _review(number, ReviewState.APPROVED, who, comment, desk, forge)


def pr_request_changes(
    number: int = NUMBER_ARGUMENT,
    comment: str = typer.Option(..., "--comment", help="What must change."),
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
    forge: ForgeKind = FORGE_OPTION,
) -> None:
    """Request changes: blocks the merge until you approve a later head.

    Example: stratops pr request-changes 1 --comment 'rerun with more data'
    """
    _review(number, ReviewState.CHANGES_REQUESTED, who, comment, desk, forge)


def pr_merge(
    number: int = NUMBER_ARGUMENT,
    desk: Path | None = DESK_OPTION,
    forge: ForgeKind = FORGE_OPTION,
) -> None:
    """Merge (a merge commit) if CI's gates pass and the approvals satisfy the policy on main.

    Exit 1 with the reasons when the review rules block it, 3 when only CI's gate verdict is
    still missing (pending): merge again once CI has run.

    Example: stratops pr merge 1
    """
    with _handled():
        repo, host = _desk(desk, forge)
        pull = merge_pull_request(repo, host, number)
    stdout.print(f"merged #{pull.number} as {(pull.merge_sha or '')[:12]} into {pull.base_branch}")


def pr_close(
    number: int = NUMBER_ARGUMENT,
    desk: Path | None = DESK_OPTION,
    forge: ForgeKind = FORGE_OPTION,
) -> None:
    """Close a pull request without merging it.

    Example: stratops pr close 1
    """
    with _handled():
        _repo, host = _desk(desk, forge)
        pull = host.close_pull_request(number)
    stdout.print(f"closed #{pull.number} ({pull.head_branch})")


def register(app: typer.Typer, evaluator: GateEvaluatorFactory | None = None) -> None:
    commands = _Commands(evaluator)
    app.command("init")(init)
    app.command("promote")(commands.promote)
    pulls = typer.Typer(
        help="The desk's pull requests: create, list, show, review, merge, close.",
        epilog="Example: stratops pr list",
        no_args_is_help=True,
    )
    pulls.command("create")(pr_create)
    pulls.command("list")(pr_list)
    pulls.command("show")(pr_show)
    pulls.command("approve")(pr_approve)
    pulls.command("request-changes")(pr_request_changes)
    pulls.command("merge")(pr_merge)
    pulls.command("close")(pr_close)
    app.add_typer(pulls, name="pr")
    gates = typer.Typer(
        help="Promotion gates: evaluate one version, or check every change between two commits.",
        epilog="Example: stratops gates check --base origin/main",
        no_args_is_help=True,
    )
    gates.command("check")(commands.gates_check)
    gates.command("evaluate")(evaluate_command)
    app.add_typer(gates, name="gates")
