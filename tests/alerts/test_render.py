"""``stratops alerts render`` of the example desk, checked with the real promtool and amtool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.examples import example_manifests

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("amtool") is None,
    reason="promtool and amtool come from Debian's prometheus packages (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("alerts") / "out"
    result = CliRunner().invoke(
        app,
        [
            "alerts",
            "render",
            "--out",
            str(out),
            "--manifests",
            str(example_manifests()),
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["alerts"] == 10
    return out


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_accepts_the_rules(rendered: Path) -> None:
    assert "SUCCESS" in _run("promtool", "check", "rules", "stratops.rules.yaml", cwd=rendered)


def test_every_alert_in_every_context_behaves_under_promtool(rendered: Path) -> None:
    tests = yaml.safe_load((rendered / "stratops.rules.test.yaml").read_text())
    checks = tests["tests"][0]["alert_rule_test"]
    names = tests["tests"][0]["name"]
    assert "calendar peak" in names and "controller says thin, 3am Sunday at 4530m" in names
    assert len({c["alertname"] for c in checks}) == 10
    # the same breach fires in one context and stays quiet in another
    by_time: dict[str, set[str]] = {}
    for check in checks:
        for alert in check["exp_alerts"]:
            by_time.setdefault(check["eval_time"], set()).add(alert["exp_labels"]["case"])
    assert "slippage-high-normal-beyond" in by_time["150m"]  # peak: above the peak threshold
    assert "slippage-high-normal-beyond" not in by_time["4530m"]  # thin at 3am Sunday: quiet
    assert "slippage-high-thin-beyond" in by_time["4530m"]
    assert "SUCCESS" in _run("promtool", "test", "rules", "stratops.rules.test.yaml", cwd=rendered)


def test_amtool_accepts_the_routes(rendered: Path) -> None:
    _run("amtool", "check-config", "alertmanager.yaml", cwd=rendered)
    config = yaml.safe_load((rendered / "alertmanager.yaml").read_text())
    critical = config["route"]["routes"][0]["routes"]
    desk, night = critical[0], critical[1]
    assert desk["active_time_intervals"] == ["desk-hours"] and desk["continue"] is True
    assert night["receiver"].startswith("oncall-")
    assert night["active_time_intervals"] == ["nights", "weekends"]


def test_runbook_urls_resolve_next_to_the_rules(rendered: Path) -> None:
    rules = yaml.safe_load((rendered / "stratops.rules.yaml").read_text())
    urls = [r["annotations"]["runbook_url"] for r in rules["groups"][0]["rules"] if "alert" in r]
    assert urls and all((rendered / url).is_file() for url in urls)
    assert all((rendered / url).with_suffix(".md").is_file() for url in urls)
