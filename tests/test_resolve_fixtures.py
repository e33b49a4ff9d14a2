"""Search-order cases held against the real loader, on fixtures built at test time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from elfship.resolve import resolve
from elfship.resolve.loaderfacts import host_isa_level
from tests.test_resolve_support import (
    RPATH,
    RUNPATH,
    assert_agrees,
    dep,
    exec_trace,
    layout,
    ldso_list,
    library,
    mapped,
    mid,
    program,
    require_host_loader,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _host_loader() -> None:
    require_host_loader()


def by_name(resolution, soname):  # type: ignore[no-untyped-def]
    return next(lib for lib in (*resolution.libraries, *resolution.missing) if lib.soname == soname)


def test_rpath_comes_before_ld_library_path(tmp_path: Path) -> None:
    prog = program("use_dep.c", [dep()], (*RPATH, "-Wl,-rpath,$ORIGIN/a"))
    top = layout(tmp_path, {"prog": prog, "a/libdep.so.1": dep(), "b/libdep.so.1": dep()})
    llp = str(top / "b")
    resolution = resolve(top / "prog", ld_library_path=[llp])
    assert by_name(resolution, "libdep.so.1").found_via == "rpath"
    assert by_name(resolution, "libdep.so.1").path == f"{top}/a/libdep.so.1"
    assert_agrees(resolution, ldso_list(top / "prog", env={"LD_LIBRARY_PATH": llp}))


def test_runpath_comes_after_ld_library_path(tmp_path: Path) -> None:
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a"))
    top = layout(tmp_path, {"prog": prog, "a/libdep.so.1": dep(), "b/libdep.so.1": dep()})
    llp = str(top / "b")
    resolution = resolve(top / "prog", ld_library_path=[llp])
    lib = by_name(resolution, "libdep.so.1")
    assert (lib.found_via, lib.path) == ("LD_LIBRARY_PATH", f"{top}/b/libdep.so.1")
    assert_agrees(resolution, ldso_list(top / "prog", env={"LD_LIBRARY_PATH": llp}))
    without = resolve(top / "prog", ld_library_path=[])
    assert by_name(without, "libdep.so.1").found_via == "runpath"


def test_an_ancestors_rpath_serves_its_descendants(tmp_path: Path) -> None:
    prog = program("use_mid.c", [mid()], (*RPATH, "-Wl,-rpath,$ORIGIN/lib"))
    top = layout(tmp_path, {"prog": prog, "lib/libmid.so.1": mid(), "lib/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert by_name(resolution, "libmid.so.1").found_via == "rpath"
    assert by_name(resolution, "libdep.so.1").found_via == f"rpath of {top}/prog"
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_runpath_serves_only_the_object_itself(tmp_path: Path) -> None:
    prog = program("use_mid.c", [mid()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    top = layout(tmp_path, {"prog": prog, "lib/libmid.so.1": mid(), "lib/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    gone = by_name(resolution, "libdep.so.1")
    assert gone.missing and gone.needed_by == ("libmid.so.1",)
    assert [s.source for s in gone.steps][:1] == ["ld.so.cache"]
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_runpath_of_the_needer_disables_every_rpath(tmp_path: Path) -> None:
    # prog has DT_RPATH lib/ and dep/, libmid has DT_RUNPATH (elsewhere): libmid's search skips prog's RPATH.
    libmid = library("mid.c", "libmid.so.1", ldflags=(*_linked_dep(), *RUNPATH, "-Wl,-rpath,/nonexistent"))
    prog = program("use_mid.c", [libmid], (*RPATH, "-Wl,-rpath,$ORIGIN/lib:$ORIGIN/dep"))
    top = layout(tmp_path, {"prog": prog, "lib/libmid.so.1": libmid, "dep/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert by_name(resolution, "libdep.so.1").missing
    assert_agrees(resolution, ldso_list(top / "prog"))


def _linked_dep() -> tuple[str, ...]:
    return (f"-L{dep().parent}", "-l:libdep.so.1")


def test_origin_of_a_library_is_the_directory_it_was_reached_by(tmp_path: Path) -> None:
    # links/libmid.so.1 -> ../real/libmid.so.1; libmid's RUNPATH $ORIGIN means links/, not real/.
    libmid = library("mid.c", "libmid.so.1", ldflags=(*_linked_dep(), *RUNPATH, "-Wl,-rpath,$ORIGIN"))
    prog = program("use_mid.c", [libmid], (*RUNPATH, "-Wl,-rpath,$ORIGIN/links"))
    top = layout(
        tmp_path,
        {
            "prog": prog,
            "real/libmid.so.1": libmid,
            "links/libmid.so.1": "../real/libmid.so.1",
            "links/libdep.so.1": dep(),
        },
    )
    resolution = resolve(top / "prog", ld_library_path=[])
    lib = by_name(resolution, "libdep.so.1")
    assert (lib.found_via, lib.path) == ("runpath", f"{top}/links/libdep.so.1")
    assert by_name(resolution, "libmid.so.1").host_path == f"{top}/real/libmid.so.1"
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_origin_of_the_program_is_its_real_directory(tmp_path: Path) -> None:
    """The kernel gives ld.so the program's real path: a symlinked program still finds $ORIGIN/lib.

    `ld.so --list LINK` uses LINK's directory instead (a deliberate difference, docs/resolve.md); running
    the symlink in trace mode is the truth here.
    """
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    top = layout(tmp_path, {"app/prog": prog, "app/lib/libdep.so.1": dep(), "bin/prog": "../app/prog"})
    resolution = resolve(top / "bin/prog", ld_library_path=[])
    assert by_name(resolution, "libdep.so.1").path == f"{top}/app/lib/libdep.so.1"
    assert_agrees(resolution, exec_trace(top / "bin/prog"))
    assert "libdep.so.1" in ldso_list(top / "bin/prog").missing  # list mode differs; we follow exec


def test_nodeflib_skips_the_cache_and_the_default_directories(tmp_path: Path) -> None:
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a", "-Wl,-z,nodefaultlib"))
    top = layout(tmp_path, {"prog": prog, "a/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert resolution.program.nodeflib
    libc = by_name(resolution, "libc.so.6")
    assert libc.missing
    assert any("NODEFLIB" in s.outcome for s in libc.steps)
    assert_agrees(resolution, ldso_list(top / "prog"))
    # LD_LIBRARY_PATH still applies to a NODEFLIB program.
    llp = ["/lib/x86_64-linux-gnu"]
    with_llp = resolve(top / "prog", ld_library_path=llp)
    assert by_name(with_llp, "libc.so.6").found_via == "LD_LIBRARY_PATH"
    assert_agrees(with_llp, ldso_list(top / "prog", env={"LD_LIBRARY_PATH": llp[0]}))


@pytest.mark.parametrize(
    ("target", "outcome"), [("x86-linux-gnu", "wrong class"), ("aarch64-linux-gnu", "wrong machine")]
)
def test_a_library_of_another_architecture_is_skipped(tmp_path: Path, target: str, outcome: str) -> None:
    foreign = dep(compiler="zig", zig_target=target)
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a:$ORIGIN/b"))
    top = layout(tmp_path, {"prog": prog, "a/libdep.so.1": foreign, "b/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    lib = by_name(resolution, "libdep.so.1")
    assert lib.path == f"{top}/b/libdep.so.1"
    assert [(s.path, s.outcome) for s in lib.steps][:1] == [(f"{top}/a/libdep.so.1", outcome)]
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_only_a_foreign_copy_is_missing_with_a_hint(tmp_path: Path) -> None:
    foreign = dep(compiler="zig", zig_target="x86-linux-gnu")
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a"))
    top = layout(tmp_path, {"prog": prog, "a/libdep.so.1": foreign})
    resolution = resolve(top / "prog", ld_library_path=[])
    lib = by_name(resolution, "libdep.so.1")
    assert lib.missing and lib.hint and "wrong class" in lib.hint
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_glibc_hwcaps_subdirectory_wins(tmp_path: Path) -> None:
    if host_isa_level("x86_64") is None:
        pytest.skip("this CPU has no x86-64-v2: glibc-hwcaps subdirectories are not searched")
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a"))
    top = layout(
        tmp_path, {"prog": prog, "a/libdep.so.1": dep(), "a/glibc-hwcaps/x86-64-v2/libdep.so.1": dep()}
    )
    resolution = resolve(top / "prog", ld_library_path=[])
    assert by_name(resolution, "libdep.so.1").path == f"{top}/a/glibc-hwcaps/x86-64-v2/libdep.so.1"
    assert_agrees(resolution, ldso_list(top / "prog"))
    # For a baseline CPU (--isa baseline) the loader would take the plain copy.
    baseline = resolve(top / "prog", ld_library_path=[], isa="baseline")
    assert by_name(baseline, "libdep.so.1").path == f"{top}/a/libdep.so.1"
    assert baseline.isa is None


def test_a_missing_library_lists_every_step(tmp_path: Path) -> None:
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a"))
    top = layout(tmp_path, {"prog": prog})
    resolution = resolve(top / "prog", ld_library_path=[])
    lib = by_name(resolution, "libdep.so.1")
    assert lib.missing and lib.path is None and lib.found_via == "missing"
    sources = [s.source for s in lib.steps]
    assert sources[0] == "runpath" and "ld.so.cache" in sources and sources[-1] == "default"
    assert all(s.outcome in ("absent", "no entry") for s in lib.steps)
    assert not resolution.ok
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_origin_in_ld_library_path_is_the_programs_directory(tmp_path: Path) -> None:
    prog = program("use_dep.c", [dep()])
    top = layout(tmp_path, {"prog": prog, "sub/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=["$ORIGIN/sub"])
    assert by_name(resolution, "libdep.so.1").path == f"{top}/sub/libdep.so.1"
    assert_agrees(resolution, ldso_list(top / "prog", env={"LD_LIBRARY_PATH": "$ORIGIN/sub"}))


def test_lib_token_expands_to_the_multiarch_directory(tmp_path: Path) -> None:
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/$LIB"))
    top = layout(tmp_path, {"prog": prog, "lib/x86_64-linux-gnu/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert by_name(resolution, "libdep.so.1").path == f"{top}/lib/x86_64-linux-gnu/libdep.so.1"
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_platform_token(tmp_path: Path) -> None:
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/${PLATFORM}"))
    top = layout(tmp_path, {"prog": prog, "x86_64/libdep.so.1": dep(), "haswell/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert_agrees(resolution, ldso_list(top / "prog"))


def test_two_names_for_one_file_map_it_once(tmp_path: Path) -> None:
    # libdep.so.1 found by the program; libmid needs "libdep.so.1" too and gets the same object.
    prog = program("use_mid.c", [mid(), dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    top = layout(tmp_path, {"prog": prog, "lib/libmid.so.1": mid(), "lib/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert [lib.soname for lib in resolution.libraries].count("libdep.so.1") <= 1
    assert set(by_name(resolution, "libdep.so.1").needed_by) >= {"libmid.so.1"}
    assert_agrees(resolution, ldso_list(top / "prog"))
    assert len(mapped(resolution)) == len(resolution.libraries)


def test_load_order_is_breadth_first(tmp_path: Path) -> None:
    prog = program("use_mid.c", [mid()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    libmid = library("mid.c", "libmid.so.1", ldflags=(*_linked_dep(), *RUNPATH, "-Wl,-rpath,$ORIGIN"))
    top = layout(tmp_path, {"prog": prog, "lib/libmid.so.1": libmid, "lib/libdep.so.1": dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    listed = [line.split()[0] for line in ldso_list(top / "prog").output.splitlines() if "=>" in line]
    assert [lib.soname for lib in resolution.libraries if lib.found_via != "interpreter"] == listed
    assert os.path.basename(resolution.libraries[-1].soname).startswith("ld-linux")
