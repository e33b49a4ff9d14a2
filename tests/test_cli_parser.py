"""The command line: every command reachable and documented though only the chosen one is built
(cli/parser.LazySubcommands), --version answered before argparse loads, usage errors exit 2 in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from elfship import __version__
from elfship.cli.parser import COMMANDS

SRC = Path(__file__).resolve().parent.parent / "src"


def elfship(*args: str, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    argv = [sys.executable, *python, "-m", "elfship", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_the_top_level_help_lists_every_command_with_its_summary() -> None:
    done = elfship("--help")
    assert done.returncode == 0, done.stderr
    flat = " ".join(done.stdout.split())  # argparse wraps long summaries
    for name, summary in COMMANDS:
        assert f"{name} {summary}" in flat, name
    assert "exit codes:" in done.stdout


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_each_command_has_its_own_help_with_examples(name: str) -> None:
    done = elfship(name, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: elfship {name} ")
    assert "examples:" in done.stdout


def test_an_unknown_or_missing_command_is_a_usage_error() -> None:
    unknown = elfship("chek", "/bin/sh")
    assert unknown.returncode == 2
    assert "invalid choice: 'chek'" in unknown.stderr and "check" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    nothing = elfship()
    assert nothing.returncode == 2 and nothing.stderr.startswith("usage: elfship")


def test_a_commands_own_usage_error_names_the_command() -> None:
    done = elfship("check")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "elfship check: error: the following arguments are required: FILE"


def test_version_is_answered_without_loading_argparse() -> None:
    code = (
        "import sys; from elfship.cli.main import main; main(['--version']); "
        "print('argparse' in sys.modules, file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.stdout == f"elfship {__version__}\n"
    assert done.stderr.strip() == "False"
    assert elfship("--version").stdout == f"elfship {__version__}\n"
