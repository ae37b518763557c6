"""Every number a person types is checked before anything runs: one line, exit 2, no trace."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stratops.cli.main import app

BAD = [
    (["gates", "evaluate", "btc-trend", "0", "--to", "canary"], "'VERSION'"),
    (["gates", "evaluate", "btc-trend", "1", "--to", "canary", "--allocation", "inf"],
     "'--allocation': expected a finite amount above 0, got inf"),
    (["gates", "evaluate", "btc-trend", "1", "--to", "canary", "--allocation", "nan"],
     "'--allocation': expected a finite amount above 0, got nan"),
    (["gates", "evaluate", "btc-trend", "1", "--to", "canary", "--allocation", "-5"],
     "'--allocation': expected a finite amount above 0, got -5"),
    (["promote", "btc-trend", str(2**70), "--to", "paper"], "'VERSION'"),
    (["promote", "btc-trend", "1", "--to", "canary", "--allocation", "0"],
     "'--allocation': expected a finite amount above 0, got 0"),
    (["evidence", "verify", "btc-trend", str(2**31)], "'VERSION'"),
    (["backtest", "--strategy", "trend", "--allocation", "-inf"],
     "'--allocation': expected a finite amount above 0, got -inf"),
    (["paper", "run", "--model-uri", "m", "--allocation", "nan"],
     "'--allocation': expected a finite amount above 0, got nan"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD, ids=lambda a: " ".join(a)[:60])
def test_bad_numbers_are_refused_in_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output
