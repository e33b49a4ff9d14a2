"""`elfship tree`: the box-drawing tree, the JSON document, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.test_resolve_support import RUNPATH, dep, layout, mid, program, require_host_loader

SCHEMA = json.loads((Path(__file__).parent.parent / "src/elfship/schemas/tree.schema.json").read_text())

pytestmark = pytest.mark.slow


def tree(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elfship", "tree", *args], capture_output=True, text=True)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    require_host_loader()
    prog = program("use_mid.c", [mid()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    return layout(tmp_path, {"prog": prog, "lib/libmid.so.1": mid()})  # libdep is missing


def test_text_tree_shows_how_each_library_was_found(app: Path) -> None:
    result = tree("--ld-library-path", "", str(app / "prog"))
    assert result.returncode == 1  # something is missing: answered "no"
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{app}/prog [dynamic, glibc")
    assert f"└── libmid.so.1 => {app}/lib/libmid.so.1 [runpath]" in lines
    missing = next(i for i, line in enumerate(lines) if "libdep.so.1 => not found" in line)
    assert lines[missing].startswith("    └── ")
    assert lines[missing + 1].strip().startswith("1. [ld.so.cache] /etc/ld.so.cache: no entry")
    assert "hidden: libc.so.6" in result.stdout


def test_all_shows_libc_and_the_loader(app: Path) -> None:
    result = tree("--all", "--ld-library-path", "", str(app / "prog"))
    assert "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 [ld.so.cache]" in result.stdout
    assert "[interpreter]" in result.stdout and "hidden" not in result.stdout


def test_json_follows_the_schema(app: Path) -> None:
    (app / "lib/libdep.so.1").write_bytes(Path(dep()).read_bytes())
    # libmid has no RUNPATH of its own: LD_LIBRARY_PATH is what finds libdep for it.
    result = tree("--json", "--ld-library-path", str(app / "lib"), str(app / "prog"))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["missing"] == []
    sonames = [lib["soname"] for lib in document["libraries"]]
    assert sonames == ["libmid.so.1", "libc.so.6", "libdep.so.1", "ld-linux-x86-64.so.2"]  # breadth first
    libdep = document["libraries"][2]
    assert (libdep["needed_by"], libdep["found_via"]) == (["libmid.so.1"], "LD_LIBRARY_PATH")
    assert document["libraries"][3] == document["interpreter"]


def test_json_lists_missing_libraries_with_their_steps(app: Path) -> None:
    result = tree("--json", "--ld-library-path", "", str(app / "prog"))
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    (missing,) = document["missing"]
    assert missing["soname"] == "libdep.so.1" and missing["path"] is None
    assert missing["steps"][0] == {"source": "ld.so.cache", "path": "/etc/ld.so.cache", "outcome": "no entry"}
    assert missing in document["libraries"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--root", "/nonexistent-root", "/bin/sh"], "root /nonexistent-root does not exist"),
        (["/etc/hostname"], "not an ELF file"),
        (["/nonexistent-file"], "/nonexistent-file"),
        (["--isa", "x86-64-v9", "/bin/sh"], "unknown ISA level"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    require_host_loader()
    result = tree(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_help_teaches() -> None:
    result = tree("--help")
    assert "examples:" in result.stdout and "[rpath of X]" in result.stdout and "exit codes" in result.stdout
