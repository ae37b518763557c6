"""The demo's steps: each one a real ``stratops`` command, shown as a reader would type it.

The commands run in the demo's own process (the command line is the same; the imports of
MLflow, pandas and the rest are paid once instead of once a command), each in its folder and
environment, its output captured; the deployments the controller starts are processes of
their own, as always.

1. backtest two strategies on real market data, writing evidence bundles and models;
2. scaffold a desk (Git repository, local bare remote, local forge);
3. register the versions with their evidence in the embedded MLflow registry, one of them with
   a configuration whose orders pay more than its evidence's backtest simulated;
4. run the controller: both start paper trading in the local runtime;
5. promote to canary: the honest ones open pull requests, the overfit one is stopped by its
   gates;
6. CI publishes the gate verdicts, a second person approves, the pull requests merge;
7. the controller re-verifies the gates itself and starts the canaries;
8. 3am in thin liquidity: one alert as Prometheus evaluates it, and its runbook's steps for
   that context;
9. the controller judges the canaries on their accelerated replay clock, by the same template:
   the healthy one passes; the one whose orders pay more than its evidence said fails, is
   flattened, and its rollback pull request merges itself;
10. the passed canary goes live through a pull request CI gates and two people approve;
11. the audit log, verified and replicated to the remote.
"""

from __future__ import annotations

import contextlib
import re
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.rule import Rule
from typer.testing import CliRunner

from stratops.cli.errors import exit_code, one_line
from stratops.cli.main import app
from stratops.controller.analyses import AnalysisStore
from stratops.controller.assembly import ControllerPaths
from stratops.demo.desk import (
    CANARY_MIN_DURATION,
    CANARY_TEMPLATE,
    COSTLY,
    COSTLY_CONFIG,
    REPLAY_SPEED,
    write_demo_manifests,
)
from stratops.examples import DATA_DIR_ENV
from stratops.gitops.forge.local import LOCAL_CI
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentStatus
from stratops.runtime.local import LocalRuntime

RESEARCHER = "rita"
REVIEWER = "bob"
SECOND_REVIEWER = "carol"  # live needs two approvals in the example desk's policy
HEALTHY = "btc-trend"
CANARIES = (HEALTHY, COSTLY)
JUDGING_TIMEOUT = 90.0  # wall seconds for both analyses to be decided
OPENED = re.compile(r"opened pull request #(\d+)")
BACKTESTS = {
    "btc-trend": [
        "--strategy", "trend", "--data", "binance-1h",
        "--grid", "fast=6,12,24", "--grid", "slow=96,168,240", "--grid", "size=0.25",
    ],
    "btc-overfit": ["--strategy", "overfit", "--sweep", "--data", "binance-1m"],
}  # fmt: skip
REGISTERED = {**{name: name for name in BACKTESTS}, COSTLY: HEALTHY}  # strategy: its backtest
CANARY_ALLOCATION = "10000"
LIVE_ALLOCATION = "100000"
NIGHT_ALERT = "slippage-high"
RULES_FILE = "stratops.rules.yaml"


def rendered_alert(rules_file: Path, alert: str, regime: str = "thin") -> str:
    """The alerting rule ``alert`` of a rendered rule file and its ``regime`` threshold, as YAML."""
    groups = yaml.safe_load(rules_file.read_text(encoding="utf-8"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    shown = [r for r in rules if r.get("alert") == alert]
    shown += [r for r in rules if r.get("labels") == {"alert": alert, "regime": regime}]
    return yaml.safe_dump_all(shown, sort_keys=False, width=100).strip()


@dataclass(frozen=True)
class Done:
    """A command that ran: its exit code and what it printed (stdout, then stderr)."""

    code: int
    output: str


def pull_number(done: Done) -> str:
    """The number of the pull request ``promote`` says it opened."""
    found = OPENED.search(done.output)
    if found is None:
        raise ValueError(f"no pull request opened in:\n{done.output}")
    return found.group(1)


@contextlib.contextmanager
def signals_kept() -> Iterator[None]:
    """Restore SIGINT and SIGTERM after a command that installs handlers of its own
    (``controller run``), so Ctrl-C still stops the demo."""
    kept = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def invoke(runner: CliRunner, args: Sequence[str], cwd: Path, env: dict[str, str | None]) -> Done:
    """``stratops ARGS`` in this process, in ``cwd`` with ``env``, as ``stratops`` exits.

    An error the command line maps to an exit code (bad input 2, registry unreachable 3...) is
    reported as ``stratops`` reports it; any other exception is a failure with its traceback.
    """
    with contextlib.chdir(cwd), signals_kept():
        result = runner.invoke(app, list(args), env=env, prog_name="stratops")
    output = result.stdout + result.stderr
    error = result.exception
    if error is None or isinstance(error, SystemExit):
        return Done(result.exit_code, output)
    code = exit_code(error)
    if code is None:
        trace = "".join(traceback.format_exception(error))
        return Done(1, f"{output}\n{trace}")
    return Done(code, f"{output}\nerror: {one_line(error)}")


class StepFailed(Exception):
    def __init__(self, command: Sequence[str], code: int, output: str) -> None:
        super().__init__(f"`stratops {' '.join(command)}` exited {code}:\n{output}")


class Story:
    def __init__(
        self,
        workdir: Path,
        console: Console,
        *,
        show: Callable[[str], bool],
        data_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.desk = workdir / "desk"
        self.console = console
        self.show = show
        self.runner = CliRunner()
        self.env: dict[str, str | None] = {
            "GIT_AUTHOR_NAME": RESEARCHER,
            "GIT_AUTHOR_EMAIL": f"{RESEARCHER}@desk.example",
            "GIT_COMMITTER_NAME": RESEARCHER,
            "GIT_COMMITTER_EMAIL": f"{RESEARCHER}@desk.example",
            "USER": RESEARCHER,
            "MLFLOW_TRACKING_URI": None,  # the desk's embedded registry
        }
        if data_dir is not None:  # every command reading market data takes it from here
            self.env[DATA_DIR_ENV] = str(data_dir)

    def run(
        self,
        *args: str,
        expect: Sequence[int] = (0,),
        cwd: Path | None = None,
        quiet: bool = False,
    ) -> Done:
        """Run ``stratops ARGS``; ``quiet`` runs it without showing the command or its output."""
        if not quiet:
            self.console.print(f"[bold cyan]$ stratops {' '.join(args)}[/]", highlight=False)
        done = invoke(self.runner, args, cwd or self.desk, self.env)
        output = done.output.strip()
        if done.code not in expect:
            raise StepFailed(args, done.code, output)
        if output and not quiet and self.show(" ".join(args)):
            self.console.print(output, highlight=False, markup=False)
        return done

    def chapter(self, title: str) -> None:
        self.console.print(Rule(title))

    def tell(self, text: str) -> None:
        self.console.print(f"[italic]{text}[/]")

    def play(self, example_manifests: Path) -> None:
        self.chapter("Backtest on real market data (evidence bundles with every trial)")
        for name, args in BACKTESTS.items():
            self.run(
                "backtest",
                *args,
                "--evidence-out",
                str(self.workdir / name / "evidence"),
                "--model-out",
                str(self.workdir / name / "model"),
                cwd=self.workdir,
            )

        self.chapter("A desk repository: Git, a local bare remote, a local forge")
        manifests = write_demo_manifests(example_manifests, self.workdir / "manifests")
        self.run("init", str(self.desk), "--manifests", str(manifests), cwd=self.workdir)

        self.chapter("Register the versions with their evidence (embedded MLflow)")
        config = self.workdir / COSTLY / "version.yaml"
        config.parent.mkdir()
        config.write_text(COSTLY_CONFIG, encoding="utf-8")
        for name, backtest in REGISTERED.items():
            evidence = self.workdir / backtest
            configured = ("--config", str(config)) if name == COSTLY else ()
            self.run(
                "register", name, "--type", "trend", "--evidence", str(evidence / "evidence"),
                "--model", str(evidence / "model"), *configured,
            )  # fmt: skip
        self.tell(f"{COSTLY}: {HEALTHY}'s model and evidence, with {config.name}:")
        self.console.print(COSTLY_CONFIG.strip(), markup=False, highlight=False)
        self.run("evidence", "verify", "btc-trend", "1")

        self.chapter("The controller starts the strategies in paper")
        self.run("controller", "run", "--once")
        time.sleep(4)  # the demo policy wants 3 s in paper (the example desk: 7 days)

        self.chapter("Promote to canary: the gates decide")
        self.run(
            "promote", "btc-overfit", "1", "--to", "canary", "--allocation", CANARY_ALLOCATION,
            "--analysis", "trend-canary", "--reason", "best in-sample Sharpe of the sweep",
            expect=(1,),
        )  # fmt: skip
        self.tell("The overfit version is refused: no branch, no pull request.")
        pulls = {name: self.promote_to_canary(name) for name in CANARIES}

        self.chapter("CI publishes the verdicts, a reviewer approves, the PRs merge")
        self.tell(f"promote left the gates pending: only CI's verdict ({LOCAL_CI}) counts.")
        for name, number in pulls.items():
            self.review(f"promote/{name}/v1-canary", number, (REVIEWER,))

        self.chapter("The controller re-verifies the gates and starts the canaries")
        self.run("controller", "plan")
        self.run("controller", "run", "--once", "--speed", REPLAY_SPEED)

        self.night_alert(example_manifests)
        self.judge_canaries()
        self.go_live()

        self.chapter("Every decision is in the audit log, hash-chained and replicated")
        self.run("audit", "log")
        self.run("audit", "verify")

    def promote_to_canary(self, strategy: str) -> str:
        """``promote STRATEGY 1 --to canary``; the number of the pull request it opened."""
        reason = {
            HEALTHY: "7 years of evidence, gates pass",
            COSTLY: "same evidence, on the retail account",
        }[strategy]
        opened = self.run(
            "promote", strategy, "1", "--to", "canary", "--allocation", CANARY_ALLOCATION,
            "--analysis", CANARY_TEMPLATE, "--min-duration", CANARY_MIN_DURATION,
            "--reason", reason,
        )  # fmt: skip
        return pull_number(opened)

    def review(self, branch: str, number: str, reviewers: Sequence[str]) -> None:
        """CI publishes the gates of ``branch``, ``reviewers`` approve, the pull request merges."""
        self.run(
            "gates", "check", "--base", "origin/main", "--head", f"origin/{branch}", "--publish",
            "--as", LOCAL_CI,
        )  # fmt: skip
        for reviewer in reviewers:
            self.run("pr", "approve", number, "--as", reviewer, "--comment", "evidence reviewed")
        self.run("pr", "merge", number)

    def judge_canaries(self) -> None:
        """Controller ticks until both canaries' analyses are decided and applied."""
        self.chapter("The controller judges the canaries on their replay clock")
        self.tell(
            f"Both canaries replay 2017's hourly candles at {REPLAY_SPEED}x (four days a "
            f"second); each tick judges them by the same template ({CANARY_TEMPLATE}). "
            "Ticking until both analyses are decided..."
        )
        deadline = time.monotonic() + JUDGING_TIMEOUT
        while True:
            self.run("controller", "run", "--once", quiet=True)
            phases = self.canary_phases()
            settled = phases.get(HEALTHY) == "passed" and phases.get(COSTLY) == "failed"
            if settled and COSTLY not in self.running_canaries():
                break
            if time.monotonic() > deadline:
                raise StepFailed(
                    ("controller", "run", "--once"), 1, f"canaries not decided: {phases}"
                )
            time.sleep(1.0)
        self.run("canary", "status")
        self.tell(
            f"{COSTLY} failed: its orders paid more than its evidence said. Halted (flatten: "
            "its position closed at market), then rolled back by a pull request the "
            "controller merged itself (rollback.autoMerge: canary)."
        )
        self.run("pr", "list", "--state", "all")

    def canary_phases(self) -> dict[str, str]:
        """Each strategy's latest analysed phase, as the controller stored it."""
        runs = AnalysisStore(ControllerPaths(self.desk).analyses).runs()
        return {run.strategy: run.phase.value for run in runs}  # sorted: latest version last

    def running_canaries(self) -> set[str]:
        runtime = LocalRuntime(ControllerPaths(self.desk).runtime)
        return {s.spec.strategy for s in runtime.list() if s.spec.stage is Stage.CANARY}

    def go_live(self) -> None:
        self.chapter("The passed canary goes live: CI gates it, two people approve")
        opened = self.run(
            "promote", HEALTHY, "1", "--to", "live", "--allocation", LIVE_ALLOCATION,
            "--reason", "canary analysis passed",
        )  # fmt: skip
        self.review(f"promote/{HEALTHY}/v1-live", pull_number(opened), (REVIEWER, SECOND_REVIEWER))
        self.run("controller", "run", "--once")

    def night_alert(self, manifests: Path) -> None:
        """An alert of the example desk rendered for Prometheus, and its runbook at 3am."""
        self.chapter("3am, thin liquidity: an alert rendered for Prometheus, and its runbook")
        out = self.workdir / "alerts"
        self.run("alerts", "render", "--out", str(out), "--manifests", str(manifests))
        self.tell(f"{NIGHT_ALERT} in {out / RULES_FILE}, with its thin-liquidity threshold:")
        self.console.print(rendered_alert(out / RULES_FILE, NIGHT_ALERT), markup=False)
        self.run("runbook", "show", NIGHT_ALERT, "--regime", "thin", "--manifests", str(manifests))

    def stop_deployments(self) -> None:
        """Stop every process of the desk, all at once (each flushes its telemetry first)."""
        runtime = LocalRuntime(ControllerPaths(self.desk).runtime)

        def remove(status: DeploymentStatus) -> None:
            runtime.remove(
                status.spec.strategy, status.spec.stage, actor="demo", reason="demo ends"
            )

        with ThreadPoolExecutor() as pool:
            list(pool.map(remove, runtime.list()))
