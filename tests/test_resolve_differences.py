"""Every deliberate difference from `ld.so --list` (docs/resolve.md), each shown against the loader."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from elfship.resolve import resolve
from tests.test_resolve_support import (
    LDSO,
    RUNPATH,
    dep,
    layout,
    ldso_list,
    program,
    require_host_loader,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _host_loader() -> None:
    require_host_loader()


def libdep(resolution):  # type: ignore[no-untyped-def]
    return next(lib for lib in (*resolution.libraries, *resolution.missing) if lib.soname == "libdep.so.1")


def test_setuid_programs_ignore_ld_library_path(tmp_path: Path) -> None:
    """ld.so --list does not honour the setuid bit; a real start by an ordinary user does (AT_SECURE)."""
    top = layout(tmp_path, {"prog": program("use_dep.c", [dep()]), "b/libdep.so.1": dep()})
    (top / "prog").chmod(0o4755)
    llp = [str(top / "b")]
    resolution = resolve(top / "prog", ld_library_path=llp)
    assert libdep(resolution).missing
    assert any("ignores LD_LIBRARY_PATH" in w for w in resolution.warnings)
    assert "libdep.so.1" not in ldso_list(top / "prog", env={"LD_LIBRARY_PATH": llp[0]}).missing


def test_relative_directories_are_taken_from_the_current_directory(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The future process's working directory is unknown: elfship uses its own (the root's / in a root)."""
    top = layout(tmp_path, {"prog": program("use_dep.c", [dep()]), "sub/libdep.so.1": dep()})
    monkeypatch.chdir(top)
    resolution = resolve(top / "prog", ld_library_path=["sub"])
    assert libdep(resolution).path == f"{top}/sub/libdep.so.1"
    truth = subprocess.run(
        [LDSO, str(top / "prog")],
        env={"LD_TRACE_LOADED_OBJECTS": "1", "LD_LIBRARY_PATH": "sub"},
        cwd=top,
        capture_output=True,
        text=True,
    )
    assert "sub/libdep.so.1" in truth.stdout


def test_empty_path_elements_are_not_searched(tmp_path: Path) -> None:
    """glibc reads an empty RUNPATH element as the current directory; the ELF reader drops empty elements
    (almost always a build mistake), so elfship does not search there."""
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,:/nonexistent"))
    top = layout(tmp_path, {"prog": prog, "libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert libdep(resolution).missing
    truth = subprocess.run(
        [LDSO, str(top / "prog")],
        env={"LD_TRACE_LOADED_OBJECTS": "1"},
        cwd=top,
        capture_output=True,
        text=True,
    )
    assert "\tlibdep.so.1 (0x" in truth.stdout  # opened as "libdep.so.1", relative to the current directory


def test_the_vdso_is_not_a_file_and_not_listed() -> None:
    truth = ldso_list("/bin/sh")
    assert "linux-vdso.so.1" in truth.output
    assert all("vdso" not in lib.soname for lib in resolve("/bin/sh").libraries)


def test_the_interpreter_is_listed_only_when_an_object_names_it(tmp_path: Path) -> None:
    """Like ld.so's own list; Resolution.interpreter always carries it."""
    static_pie_like = program(
        "use_dep.c",
        [dep()],
        (*RUNPATH, "-Wl,-rpath,$ORIGIN", "-nostartfiles", "-nodefaultlibs", "-Wl,-e,main"),
    )
    top = layout(tmp_path, {"prog": static_pie_like, "libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert resolution.interpreter is not None and not resolution.interpreter.missing
    assert [lib.soname for lib in resolution.libraries] == ["libdep.so.1"]
    assert os.path.realpath(LDSO) not in ldso_list(top / "prog").paths
