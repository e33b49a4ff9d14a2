"""target_from_root against real Debian minbase roots (debootstrap) and a small hand-made musl root."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from elfship.errors import UsageError
from elfship.targets import get_target, target_from_root
from tests.support.fixtures import build_c, debian_root


def test_bullseye_root_matches_the_debian11_data() -> None:
    root = debian_root("bullseye")
    target = target_from_root(root)
    data = get_target("debian:11")
    assert (target.name, target.kind, target.root) == ("debian:11", "root", str(root))
    assert (target.libc, target.libc_version, target.arch) == ("glibc", "2.31", "x86_64")
    assert target.eol == data.eol and target.package_index == "debian:11"
    # The one documented difference: the root's own libc defines GLIBC_PRIVATE (it binds to that exact
    # build); the packaged data never lists it because it is never portable between releases.
    assert target.version_nodes["GLIBC"] == data.version_nodes["GLIBC"] | {"PRIVATE"}
    assert target.provides_version("libc.so.6", "GLIBC_PRIVATE") is True
    assert data.provides_version("libc.so.6", "GLIBC_PRIVATE") is False
    for namespace in ("GLIBCXX", "CXXABI", "GCC", "ZLIB"):
        assert target.version_nodes[namespace] == data.version_nodes[namespace], namespace
    # minbase has no libatomic: the root cannot say what its package would define
    assert "LIBATOMIC" not in target.version_nodes
    assert target.provides_version("libatomic.so.1", "LIBATOMIC_1.0") is None
    assert target.provides_version("libm.so.6", "GLIBC_2.29") is True
    assert target.provides_version("libm.so.6", "GLIBC_2.32") is False


def test_bullseye_root_base_sonames() -> None:
    target = target_from_root(debian_root("bullseye"))
    base = target.base_sonames
    assert base is not None
    assert {"libc.so.6", "libm.so.6", "libpthread.so.0", "libstdc++.so.6", "libz.so.1"} <= base
    assert "libpq.so.5" not in base
    assert "libz.so.1.2.11" not in base  # a real file's own name is not a soname
    assert "libbz2.so.1" in base and "libbz2.so.1.0" in base  # Debian's compatibility symlink and the soname
    packaged = get_target("debian:11").base_sonames
    assert packaged is not None
    # The packaged list was measured from a root made the same way; a later point release may differ a little.
    assert len(base ^ packaged) <= 4, sorted(base ^ packaged)
    assert target.install_command("libpq.so.5") == "apt-get install libpq5"


def test_bookworm_root_is_debian12() -> None:
    target = target_from_root(debian_root("bookworm"))
    assert (target.name, target.libc_version) == ("debian:12", "2.36")
    assert target.version_nodes["GLIBCXX"] == get_target("debian:12").version_nodes["GLIBCXX"]


def test_not_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        target_from_root(tmp_path / "missing")


def test_empty_root_has_no_libc(tmp_path: Path) -> None:
    target = target_from_root(tmp_path)
    assert (target.name, target.libc, target.libc_version) == ("unknown:unknown", "none", "")
    assert target.base_sonames == frozenset()
    assert target.version_nodes == {}


def test_musl_root_read_from_os_release_and_apk_database(tmp_path: Path) -> None:
    # A stand-in loader: any x86_64 ELF shared object at the musl loader's path.
    loader = build_c("libshared.c", cflags=("-fPIC", "-shared"), out_name="libshared-stand-in.so")
    (tmp_path / "lib" / "apk" / "db").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    shutil.copy(loader, tmp_path / "lib" / "ld-musl-x86_64.so.1")
    # An absolute link target means the root's /lib, not the host's.
    (tmp_path / "lib" / "libc.musl-x86_64.so.1").symlink_to("/lib/ld-musl-x86_64.so.1")
    (tmp_path / "etc" / "os-release").write_text('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n')
    (tmp_path / "lib" / "apk" / "db" / "installed").write_text(
        "P:busybox\nV:1.36.1-r15\n\nP:musl\nV:1.2.4_git20230717-r4\n"
    )
    target = target_from_root(tmp_path)
    assert (target.name, target.libc, target.libc_version, target.arch) == (
        "alpine:3.19",
        "musl",
        "1.2.4",
        "x86_64",
    )
    assert target.eol == get_target("alpine:3.19").eol
    assert target.base_sonames is not None and "libc.musl-x86_64.so.1" in target.base_sonames
    assert target.install_command("libpq.so.5") == "apk add so:libpq.so.5"


def test_symlinks_never_leave_the_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    # ".." stops at the root's "/", so this link points at itself: a loop, not the host's os-release.
    (tmp_path / "etc" / "os-release").symlink_to("../../../../../../etc/os-release")
    assert target_from_root(tmp_path).name == "unknown:unknown"
