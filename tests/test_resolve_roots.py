"""Resolution inside a root filesystem: its ld.so.cache (every format), its ld.so.conf, its symlinks.

Each test builds a tiny root (this machine's loader and libc, a fixture program) and asks the loader inside
it, through chroot, as the truth.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from elfship.resolve import resolve
from elfship.resolve.ldcache import parse_cache
from elfship.resolve.loaderfacts import host_isa_level
from elfship.resolve.rootfs import FileView, Located
from tests.test_resolve_support import (
    RUNPATH,
    assert_agrees,
    dep,
    layout,
    ldconfig,
    ldso_list,
    mini_root,
    program,
    require_chroot,
    require_host_loader,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def root(tmp_path: Path) -> Path:
    require_host_loader()
    require_chroot()
    top = mini_root(tmp_path / "root")
    layout(top, {"usr/bin/prog": program("use_dep.c", [dep()]), "opt/extra/libdep.so.1": dep()})
    (top / "etc/ld.so.conf.d").mkdir(parents=True)
    (top / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n")
    (top / "etc/ld.so.conf.d/extra.conf").write_text("# extra libraries\n/opt/extra\n")
    return top


def libdep(resolution):  # type: ignore[no-untyped-def]
    return next(lib for lib in (*resolution.libraries, *resolution.missing) if lib.soname == "libdep.so.1")


@pytest.mark.parametrize("cache_format", ["new", "compat", "old"])
def test_an_ld_so_conf_directory_is_found_through_the_cache(root: Path, cache_format: str) -> None:
    ldconfig(root, "-c", cache_format)
    resolution = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    lib = libdep(resolution)
    assert (lib.found_via, lib.path) == ("ld.so.cache", "/opt/extra/libdep.so.1")
    assert lib.host_path == f"{root}/opt/extra/libdep.so.1"
    assert_agrees(resolution, ldso_list("/usr/bin/prog", root=root))
    expected = {"new": "new", "compat": "old+new", "old": "old"}[cache_format]
    assert parse_cache((root / "etc/ld.so.cache").read_bytes()).format == expected


def test_without_a_cache_ld_so_conf_directories_are_not_searched(root: Path) -> None:
    resolution = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    lib = libdep(resolution)
    assert lib.missing
    assert lib.hint is not None and "/opt/extra/libdep.so.1" in lib.hint and "ld.so.cache" in lib.hint
    assert any(s.outcome == "no usable cache" for s in lib.steps)
    assert_agrees(resolution, ldso_list("/usr/bin/prog", root=root))


def test_a_stale_cache_is_reported_with_a_hint(root: Path) -> None:
    ldconfig(root)
    layout(root, {"opt/extra/libdep2.so.1": dep()})  # after ldconfig: not in the cache
    os.rename(root / "opt/extra/libdep.so.1", root / "opt/extra/old.so")
    resolution = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    lib = libdep(resolution)
    assert lib.missing
    cache_step = next(s for s in lib.steps if s.source == "ld.so.cache")
    assert (cache_step.path, cache_step.outcome) == ("/opt/extra/libdep.so.1", "absent")
    assert_agrees(resolution, ldso_list("/usr/bin/prog", root=root))


def test_the_cache_prefers_a_glibc_hwcaps_entry(root: Path) -> None:
    if host_isa_level("x86_64") is None:
        pytest.skip("this CPU has no x86-64-v2: glibc-hwcaps entries are not used")
    layout(root, {"opt/extra/glibc-hwcaps/x86-64-v2/libdep.so.1": dep()})
    ldconfig(root)
    cache = parse_cache((root / "etc/ld.so.cache").read_bytes())
    assert any(e.hwcaps_subdir == "x86-64-v2" for e in cache.entries)
    resolution = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    assert libdep(resolution).path == "/opt/extra/glibc-hwcaps/x86-64-v2/libdep.so.1"
    assert_agrees(resolution, ldso_list("/usr/bin/prog", root=root))
    baseline = resolve(root / "usr/bin/prog", root=root, ld_library_path=[], isa="baseline")
    assert libdep(baseline).path == "/opt/extra/libdep.so.1"


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a cache at all",
        b"glibc-ld.so.cache1.1" + struct.pack("<II", 100000, 0) + bytes(24),  # announces too many entries
        b"ld.so-1.7.0\0" + struct.pack("<I", 0xFFFFFF),
        b"",
    ],
    ids=["garbage", "truncated-new", "truncated-old", "empty"],
)
def test_a_corrupt_cache_is_ignored_like_ld_so_does(root: Path, content: bytes) -> None:
    layout(root, {"lib/x86_64-linux-gnu/libdep.so.1": dep()})  # found in a default directory instead
    (root / "etc/ld.so.cache").write_bytes(content)
    resolution = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    assert libdep(resolution).found_via == "default"
    assert any("ld.so.cache" in w for w in resolution.warnings)
    assert_agrees(resolution, ldso_list("/usr/bin/prog", root=root))


def test_absolute_symlinks_resolve_inside_the_root(root: Path) -> None:
    ldconfig(root)
    resolution = resolve(root / "usr/bin/prog", root=root, ld_library_path=[])
    interpreter = resolution.interpreter
    assert interpreter is not None and interpreter.path == "/lib64/ld-linux-x86-64.so.2"
    # /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/... is read as ROOT/lib/x86_64-linux-gnu/...
    assert interpreter.host_path == f"{root}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"


def test_symlinks_never_escape_the_root(tmp_path: Path) -> None:
    top = tmp_path / "root"
    layout(
        top,
        {
            "lib/up": "../../../../../../../../etc",
            "lib/abs": "/etc",
            "lib/passwd": "/etc/passwd",
            "etc/marker": Path(__file__),
            "loop/a": "b",
            "loop/b": "a",
        },
    )
    view = FileView(top)
    for path in ("/lib/up/marker", "/lib/abs/marker"):
        found = view.locate(path)
        assert isinstance(found, Located) and found.host_path == f"{top}/etc/marker"
    assert view.locate("/lib/passwd") == "absent"  # ROOT/etc/passwd, not this machine's
    assert view.locate("/loop/a") == "symlink loop"
    assert view.locate("/etc/marker/x") == "not a directory"


def test_a_program_from_outside_the_root_is_placed_inside_it(tmp_path: Path) -> None:
    """$ORIGIN of a program checked from outside a root is its placed path in the root, never the host's:
    libraries shipped next to it on this machine do not count; the same files placed in the root do."""
    require_host_loader()
    top = mini_root(tmp_path / "root")
    ldconfig(top)
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    app = layout(tmp_path / "app", {"prog": prog, "lib/libdep.so.1": dep()})
    resolution = resolve(app / "prog", root=top, ld_library_path=[])
    lib = libdep(resolution)
    assert lib.missing  # $ORIGIN/lib is ROOT/usr/local/bin/lib, which the root does not have
    assert lib.steps[0].path == "/usr/local/bin/lib/libdep.so.1"
    assert (resolution.program_path, resolution.placed_at) == ("/usr/local/bin/prog", "/usr/local/bin/prog")
    layout(top, {"opt/app/lib/libdep.so.1": dep()})
    resolution = resolve(app / "prog", root=top, ld_library_path=[], at="/opt/app/prog")
    lib = libdep(resolution)
    assert (lib.found_via, lib.path, lib.host_path) == (
        "runpath",
        "/opt/app/lib/libdep.so.1",
        f"{top}/opt/app/lib/libdep.so.1",
    )
    libc = next(lib for lib in resolution.libraries if lib.soname == "libc.so.6")
    assert libc.host_path == f"{top}/lib/x86_64-linux-gnu/libc.so.6"  # provided by the root
