"""musl's loader rules: LD_LIBRARY_PATH, then the RPATH/RUNPATH of every object up the chain, then
/etc/ld-musl-ARCH.path (or /lib:/usr/local/lib:/usr/lib); libc.so and friends are the loader itself.

The truth is musl's own loader in list mode (`/lib/ld-musl-x86_64.so.1 --list FILE`, what musl's ldd runs).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from elfship.resolve import Resolution, resolve
from tests.support.fixtures import build_c
from tests.test_resolve_support import RUNPATH, Truth, layout, linked_to, mapped, missing, require_chroot

MUSL_LOADER = "/lib/ld-musl-x86_64.so.1"
TARGET = "x86_64-linux-musl"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _musl() -> None:
    if not os.path.exists(MUSL_LOADER):
        pytest.skip(f"musl not installed ({MUSL_LOADER}; apt-get install musl)")


def musl_lib(source: str, soname: str, ldflags: Sequence[str] = ()) -> Path:
    return build_c(
        f"resolve/{source}",
        compiler="zig",
        zig_target=TARGET,
        cflags=("-shared", "-fPIC"),
        ldflags=(f"-Wl,-soname,{soname}", *ldflags),
        out_name=soname,
    )


def musl_dep() -> Path:
    return musl_lib("dep.c", "libdep.so.1")


def musl_mid() -> Path:
    return musl_lib("mid.c", "libmid.so.1", linked_to(musl_dep()))


def musl_program(source: str, libraries: Sequence[Path], ldflags: Sequence[str] = ()) -> Path:
    return build_c(
        f"resolve/{source}",
        compiler="zig",
        zig_target=TARGET,
        cflags=("-dynamic",),
        ldflags=(*linked_to(*libraries), f"-Wl,-rpath-link,{musl_dep().parent}", *ldflags),
        out_name="prog",
    )


def musl_list(program: Path | str, env: Mapping[str, str] | None = None, root: Path | None = None) -> Truth:
    def enter_root() -> None:
        assert root is not None
        os.chroot(root)
        os.chdir("/")

    result = subprocess.run(
        [MUSL_LOADER, "--list", str(program)],
        capture_output=True,
        text=True,
        env=dict(env or {}),
        timeout=60,
        preexec_fn=enter_root if root is not None else None,
    )
    paths: set[str] = set()
    for line in result.stdout.splitlines():
        if m := re.match(r"\s*(?:\S+ => )?(/\S+) \(0x", line):
            host = m.group(1) if root is None else f"{root}{m.group(1)}"
            paths.add(os.path.realpath(host))
    gone = set(re.findall(r"Error loading shared library (\S+): No such file", result.stderr))
    return Truth(result.returncode, frozenset(paths), frozenset(gone), result.stdout + result.stderr)


def all_mapped(resolution: Resolution) -> frozenset[str]:
    # musl's list always shows the loader itself (it is libc): count the interpreter in.
    extra = (
        {resolution.interpreter.host_path}
        if resolution.interpreter and resolution.interpreter.host_path
        else set()
    )
    return mapped(resolution) | frozenset(os.path.realpath(p) for p in extra)


def agrees(resolution: Resolution, truth: Truth) -> None:
    assert all_mapped(resolution) == truth.paths, truth.output
    assert missing(resolution) == truth.missing, truth.output


def entry(resolution: Resolution, soname: str):  # type: ignore[no-untyped-def]
    return next(lib for lib in (*resolution.libraries, *resolution.missing) if lib.soname == soname)


def test_libc_names_are_the_loader_itself(tmp_path: Path) -> None:
    top = layout(
        tmp_path,
        {
            "prog": musl_program("use_dep.c", [musl_dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib")),
            "lib/libdep.so.1": musl_dep(),
        },
    )
    resolution = resolve(top / "prog", ld_library_path=[])
    assert resolution.libc_family == "musl" and resolution.isa is None
    interpreter = resolution.interpreter
    assert interpreter is not None and interpreter.found_via == "interpreter"
    assert (str(top / "prog"), interpreter.soname) in resolution.edges  # NEEDED libc.so is the loader
    assert interpreter in resolution.libraries
    assert entry(resolution, "libdep.so.1").found_via == "runpath"
    agrees(resolution, musl_list(top / "prog"))


def test_runpath_serves_the_whole_chain_in_musl(tmp_path: Path) -> None:
    # glibc would not find libdep for libmid here (RUNPATH is not inherited); musl does.
    prog = musl_program("use_mid.c", [musl_mid()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    top = layout(tmp_path, {"prog": prog, "lib/libmid.so.1": musl_mid(), "lib/libdep.so.1": musl_dep()})
    resolution = resolve(top / "prog", ld_library_path=[])
    assert entry(resolution, "libdep.so.1").found_via == f"runpath of {top}/prog"
    agrees(resolution, musl_list(top / "prog"))


def test_ld_library_path_comes_first_in_musl(tmp_path: Path) -> None:
    prog = musl_program("use_dep.c", [musl_dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/a"))
    top = layout(tmp_path, {"prog": prog, "a/libdep.so.1": musl_dep(), "b/libdep.so.1": musl_dep()})
    resolution = resolve(top / "prog", ld_library_path=[str(top / "b")])
    assert entry(resolution, "libdep.so.1").path == f"{top}/b/libdep.so.1"
    agrees(resolution, musl_list(top / "prog", {"LD_LIBRARY_PATH": str(top / "b")}))


def test_a_missing_library_in_musl(tmp_path: Path) -> None:
    top = layout(tmp_path, {"prog": musl_program("use_dep.c", [musl_dep()])})
    resolution = resolve(top / "prog", ld_library_path=[])
    lib = entry(resolution, "libdep.so.1")
    assert lib.missing and all(s.source == "default" for s in lib.steps)
    with (
        open("/etc/ld-musl-x86_64.path")
        if os.path.exists("/etc/ld-musl-x86_64.path")
        else open(os.devnull) as f
    ):
        listed = [d for d in f.read().replace("\n", ":").split(":") if d] or [
            "/lib",
            "/usr/local/lib",
            "/usr/lib",
        ]
    assert [s.path for s in lib.steps] == [f"{d}/libdep.so.1" for d in listed]
    agrees(resolution, musl_list(top / "prog"))


def test_the_musl_path_file_of_a_root(tmp_path: Path) -> None:
    require_chroot()
    loader = os.path.realpath(MUSL_LOADER)
    root = layout(
        tmp_path / "root",
        {
            "lib/ld-musl-x86_64.so.1": Path(loader),
            "opt/musl/libdep.so.1": musl_dep(),
            "usr/bin/prog": musl_program("use_dep.c", [musl_dep()]),
        },
    )
    (root / "etc").mkdir()
    (root / "etc/ld-musl-x86_64.path").write_text("/opt/empty\n/opt/musl\n")
    resolution = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    lib = entry(resolution, "libdep.so.1")
    assert (lib.found_via, lib.path) == ("default", "/opt/musl/libdep.so.1")
    agrees(resolution, musl_list("/usr/bin/prog", root=root))
    # Without the file musl searches /lib:/usr/local/lib:/usr/lib only.
    (root / "etc/ld-musl-x86_64.path").unlink()
    without = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    assert entry(without, "libdep.so.1").missing
    assert [s.path for s in entry(without, "libdep.so.1").steps] == [
        "/lib/libdep.so.1",
        "/usr/local/lib/libdep.so.1",
        "/usr/lib/libdep.so.1",
    ]
    agrees(without, musl_list("/usr/bin/prog", root=root))
