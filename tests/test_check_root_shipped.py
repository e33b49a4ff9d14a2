"""--root with a program from outside: the libraries it reaches through $ORIGIN that are beside it on this
machine travel with it, placed relative to its placement, and are checked in the root too."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema

from elfship.check.rootcheck import check_in_root
from elfship.elf import read_elf
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c, debian_root

SCHEMA = json.loads(resources.files("elfship").joinpath("schemas/check.schema.json").read_text())


def _app(tmp_path: Path, library: Path, program: Path) -> Path:
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    shutil.copy(program, tmp_path / "bin" / "app")
    shutil.copy(library, tmp_path / "lib" / "libversioned.so.1")
    return tmp_path / "bin" / "app"


def _origin_app(tmp_path: Path) -> Path:
    program = build_c(
        "uses_shared.c",
        ldflags=[str(versioned_library()), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"],
        out_name="app-origin",
    )
    return _app(tmp_path, versioned_library(), program)


def test_a_library_beside_the_program_travels_into_the_root(tmp_path: Path) -> None:
    app = _origin_app(tmp_path)
    root = debian_root("bookworm")
    result = check_in_root(str(app), read_elf(app), root)
    assert result.verdict == "runs", result.findings
    assert result.placed_at == "/usr/local/bin/app"
    (along,) = [f for f in result.findings if f.kind == "shipped-along"]
    (library,) = along.evidence["libraries"]
    assert library["placed_at"] == "/usr/local/lib/libversioned.so.1"
    assert library["path"] == str(tmp_path / "lib" / "libversioned.so.1")
    at = check_in_root(str(app), read_elf(app), root, at="/opt/app/bin/app")
    (along,) = [f for f in at.findings if f.kind == "shipped-along"]
    assert along.evidence["libraries"][0]["placed_at"] == "/opt/app/lib/libversioned.so.1"
    # Nothing beside it: the loader in the root would not find it.
    (tmp_path / "lib" / "libversioned.so.1").unlink()
    gone = check_in_root(str(app), read_elf(app), root)
    assert gone.verdict == "fails" and [f.kind for f in gone.errors] == ["library-missing"]


def test_json_names_what_travels(tmp_path: Path) -> None:
    app = _origin_app(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "elfship",
            "check",
            str(app),
            "--root",
            str(debian_root("bookworm")),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    (finding,) = [f for f in document["results"][0]["findings"] if f["kind"] == "shipped-along"]
    assert "shipped along" in finding["message"] and "/usr/local/lib/libversioned.so.1" in finding["message"]


def test_a_travelling_librarys_own_needs_come_from_the_root(tmp_path: Path) -> None:
    needs_pq = build_c(
        "libneedspq.c",
        cflags=["-shared", "-fPIC", "-I/usr/include/postgresql"],
        ldflags=["-Wl,-soname,libversioned.so.1", "-lpq"],
        out_name="libneedspq.so",
    )
    program = build_c(
        "exit42.c",
        ldflags=["-Wl,--no-as-needed", str(needs_pq), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"],
    )
    app = _app(tmp_path, needs_pq, program)
    result = check_in_root(str(app), read_elf(app), debian_root("bookworm"))  # minbase: no libpq5
    (error,) = result.errors
    assert (error.kind, error.evidence["library"]) == ("library-missing", "libpq.so.5")
    assert "libpq.so.5 => not found" in error.message
