"""The demo's steps: each one a real ``stratops`` command, shown as a reader would type it.

1. backtest two strategies on real market data, writing evidence bundles and models;
2. scaffold a desk (Git repository, local bare remote, local forge);
3. register both versions with their evidence in the embedded MLflow registry;
4. run the controller: both start paper trading in the local runtime;
5. promote both to canary: the honest one opens a pull request, the overfit one is stopped
   by its gates;
6. CI publishes the gate verdict, a second person approves, the pull request merges;
7. the controller re-verifies the gates itself and starts the canary;
8. 3am in thin liquidity: one alert as Prometheus evaluates it, and its runbook's steps for
   that context;
9. the audit log, verified and replicated to the remote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from rich.console import Console
from rich.rule import Rule

from stratops.demo.desk import write_demo_manifests
from stratops.examples import DATA_DIR_ENV
from stratops.gitops.forge.local import LOCAL_CI
from stratops.runtime.local import LocalRuntime

RESEARCHER = "rita"
REVIEWER = "bob"
BACKTESTS = {
    "btc-trend": [
        "--strategy", "trend", "--data", "binance-1h",
        "--grid", "fast=6,12,24", "--grid", "slow=96,168,240", "--grid", "size=0.25",
    ],
    "btc-overfit": ["--strategy", "overfit", "--sweep", "--data", "binance-1m"],
}  # fmt: skip
CANARY_ALLOCATION = "10000"
NIGHT_ALERT = "slippage-high"
RULES_FILE = "stratops.rules.yaml"


def rendered_alert(rules_file: Path, alert: str, regime: str = "thin") -> str:
    """The alerting rule ``alert`` of a rendered rule file and its ``regime`` threshold, as YAML."""
    groups = yaml.safe_load(rules_file.read_text(encoding="utf-8"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    shown = [r for r in rules if r.get("alert") == alert]
    shown += [r for r in rules if r.get("labels") == {"alert": alert, "regime": regime}]
    return yaml.safe_dump_all(shown, sort_keys=False, width=100).strip()


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
        self.env = {
            **os.environ,
            "GIT_AUTHOR_NAME": RESEARCHER,
            "GIT_AUTHOR_EMAIL": f"{RESEARCHER}@desk.example",
            "GIT_COMMITTER_NAME": RESEARCHER,
            "GIT_COMMITTER_EMAIL": f"{RESEARCHER}@desk.example",
            "USER": RESEARCHER,
            "COLUMNS": "100",
        }
        self.env.pop("MLFLOW_TRACKING_URI", None)  # the desk's embedded registry
        if data_dir is not None:  # every command reading market data takes it from here
            self.env[DATA_DIR_ENV] = str(data_dir)

    def run(self, *args: str, expect: Sequence[int] = (0,), cwd: Path | None = None) -> str:
        self.console.print(f"[bold cyan]$ stratops {' '.join(args)}[/]", highlight=False)
        done = subprocess.run(
            [sys.executable, "-m", "stratops", *args],
            cwd=cwd or self.desk,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        output = (done.stdout + done.stderr).strip()
        if done.returncode not in expect:
            raise StepFailed(args, done.returncode, output)
        if output and self.show(" ".join(args)):
            self.console.print(output, highlight=False, markup=False)
        return done.stdout

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
        for name in BACKTESTS:
            self.run(
                "register",
                name,
                "--type",
                "trend",
                "--evidence",
                str(self.workdir / name / "evidence"),
                "--model",
                str(self.workdir / name / "model"),
            )
        self.run("evidence", "verify", "btc-trend", "1")

        self.chapter("The controller starts both strategies in paper")
        self.run("controller", "run", "--once")
        time.sleep(4)  # the demo policy wants 3 s in paper (the example desk: 7 days)

        self.chapter("Promote both to canary: the gates decide")
        self.run(
            "promote", "btc-overfit", "1", "--to", "canary", "--allocation", CANARY_ALLOCATION,
            "--analysis", "trend-canary", "--reason", "best in-sample Sharpe of the sweep",
            expect=(1,),
        )  # fmt: skip
        self.tell("The overfit version is refused: no branch, no pull request.")
        self.run(
            "promote", "btc-trend", "1", "--to", "canary", "--allocation", CANARY_ALLOCATION,
            "--analysis", "trend-canary", "--reason", "7 years of evidence, gates pass",
        )  # fmt: skip

        self.chapter("CI publishes the verdict, a reviewer approves, the PR merges")
        branch = "promote/btc-trend/v1-canary"
        self.tell(f"promote left the gates pending: only CI's verdict ({LOCAL_CI}) counts.")
        self.run(
            "gates", "check", "--base", "origin/main", "--head", f"origin/{branch}", "--publish",
            "--as", LOCAL_CI,
        )  # fmt: skip
        self.run("pr", "approve", "1", "--as", REVIEWER, "--comment", "evidence reviewed")
        self.run("pr", "merge", "1")

        self.chapter("The controller re-verifies the gates and starts the canary")
        self.run("controller", "plan")
        self.run("controller", "run", "--once")

        self.night_alert(example_manifests)

        self.chapter("Every decision is in the audit log, hash-chained and replicated")
        self.run("audit", "log")
        self.run("audit", "verify")

    def night_alert(self, manifests: Path) -> None:
        """An alert of the example desk rendered for Prometheus, and its runbook at 3am."""
        self.chapter("3am, thin liquidity: an alert rendered for Prometheus, and its runbook")
        out = self.workdir / "alerts"
        self.run("alerts", "render", "--out", str(out), "--manifests", str(manifests))
        self.tell(f"{NIGHT_ALERT} in {out / RULES_FILE}, with its thin-liquidity threshold:")
        self.console.print(rendered_alert(out / RULES_FILE, NIGHT_ALERT), markup=False)
        self.run("runbook", "show", NIGHT_ALERT, "--regime", "thin", "--manifests", str(manifests))

    def stop_deployments(self) -> None:
        runtime = LocalRuntime(self.desk / ".stratops" / "runtime")
        for status in runtime.list():
            runtime.remove(
                status.spec.strategy, status.spec.stage, actor="demo", reason="demo ends"
            )
