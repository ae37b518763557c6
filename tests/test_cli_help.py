"""Help of every command reads like kubectl/gh, and ``stratops --help`` starts light."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from typer import _click as click
from typer.core import TyperGroup
from typer.testing import CliRunner

from stratops.cli.main import LAZY_COMMANDS, app, load_command

runner = CliRunner()
TYPE_HINTS = re.compile(
    r"<(bool|str|int|float|int range|float range|datetime|file|directory)>|RANGE|\[x>"
)


def _paths(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _paths(sub, (*path, name))


def all_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]
    for name in LAZY_COMMANDS:
        found.extend(_paths(load_command(name), (name,)))
    return found


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "root")
def test_help_is_clean(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Example: stratops" in out
    assert not TYPE_HINTS.search(out), out
    assert "{" not in out.split("\n\n")[0] + out.splitlines()[1]
    usage = next(line for line in out.splitlines() if "Usage:" in line)
    positional = usage.split("[OPTIONS]", 1)[-1].replace("COMMAND [ARGS]...", "")
    assert positional == positional.upper(), usage


def test_long_help_option_too() -> None:
    assert runner.invoke(app, ["evidence", "verify", "--help"]).exit_code == 0


def test_positional_metavars_in_capitals() -> None:
    out = runner.invoke(app, ["gates", "evaluate", "-h"], env={"COLUMNS": "120"}).output
    assert "[OPTIONS] STRATEGY VERSION" in out


def test_root_help_lists_exit_codes() -> None:
    out = runner.invoke(app, ["-h"], env={"COLUMNS": "200"}).output
    for code in ("0 ok", "1 a negative verdict", "2 bad input", "3 retry"):
        assert code in out


def test_help_does_not_break_words() -> None:
    out = runner.invoke(app, ["backtest", "-h"], env={"COLUMNS": "80"}).output
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("  ") if c.strip()]
        for cell in cells:
            assert not re.search(r"[a-z]-$", cell) or cell.endswith("--"), line


def test_lazy_summaries_match_the_commands() -> None:
    for name, (_module, summary) in LAZY_COMMANDS.items():
        assert load_command(name).get_short_help_str(limit=200) == summary


def test_root_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from stratops.cli.main import app\n"
        "for args in (['--help'], ['--version'], ['validate', '-h']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "heavy = ('mlflow', 'pandas', 'pyarrow', 'scipy', 'kubernetes', 'git',\n"
        "         'typer.rich_utils')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
