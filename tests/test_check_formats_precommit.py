""".pre-commit-hooks.yaml: pre-commit's own manifest loader accepts it, its file filter (pre-commit's
`identify` tags) picks a real built ELF program and leaves a script alone, and its entry with its default
args gates on that program's answer: exit 0 where it runs everywhere, 1 where it does not."""

from __future__ import annotations

import shlex
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from identify.identify import tags_from_path
from pre_commit.clientlib import load_manifest

from tests.support.binaries import MATRIX_BINARIES

MANIFEST = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"


def hook() -> dict[str, object]:
    (only,) = [h for h in load_manifest(str(MANIFEST)) if h["id"] == "elfship-check"]
    return dict(only)


def run_entry(*files: str) -> subprocess.CompletedProcess[str]:
    """The hook's command line as pre-commit builds it (entry + args + file names); `elfship` is the
    console script, run here as `python -m elfship` so the tree under test answers."""
    spec = hook()
    entry = shlex.split(str(spec["entry"]))
    assert entry[0] == "elfship"
    args: list[str] = list(spec["args"])  # type: ignore[call-overload]
    command = [sys.executable, "-m", "elfship", *entry[1:], *args, *files]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_manifest_is_valid_and_its_entry_is_the_console_script() -> None:
    spec = hook()
    assert spec["language"] == "python" and spec["pass_filenames"] is True
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("elfship") == "elfship.cli.main:main"  # what pre-commit's venv will put on PATH


def test_file_filter_picks_elf_programs(tmp_path: Path) -> None:
    types = set(hook()["types"])  # type: ignore[call-overload]
    program = MATRIX_BINARIES["static-musl"]()
    assert types <= tags_from_path(str(program))
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    assert not types <= tags_from_path(str(script))  # a shell script is not handed to elfship


def test_entry_gates_on_the_answer() -> None:
    good = run_entry(str(MATRIX_BINARIES["static-musl"]()))
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run_entry(str(MATRIX_BINARIES["host-dynamic"]()))  # needs glibc 2.34: older supported releases
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "GLIBC_2.3" in bad.stdout and "Traceback" not in bad.stderr
