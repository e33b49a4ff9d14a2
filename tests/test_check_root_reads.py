"""`check --root` reads what its answer needs: the root's libc and the libraries that define version nodes,
not every library in the root (that inventory is `targets --root`'s). Counted in read system calls
(/proc/self/io), so the test holds whatever the code reading the root looks like."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from elfship.check.batch import CheckRequest, check_files
from elfship.targets.root import target_from_root
from tests.support.fixtures import build_c, debian_root

EXTRA_LIBRARIES = 400
ESSENTIAL = ("libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6", "libgcc_s.so.1", "libstdc++.so.6", "libz.so.1")


@contextmanager
def counted_reads() -> Iterator[list[int]]:
    """The number of read system calls this process makes inside the block."""

    def reads() -> int:
        text = Path("/proc/self/io").read_text()
        return int(next(line.split()[1] for line in text.splitlines() if line.startswith("syscr:")))

    result: list[int] = []
    before = reads()
    yield result
    result.append(reads() - before)


@pytest.fixture(scope="module")
def crowded_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real root (Debian 12's libc, loader and version-node libraries) whose library directory also
    holds EXTRA_LIBRARIES more shared libraries, as a full system's does."""
    bookworm = debian_root("bookworm")
    root = tmp_path_factory.mktemp("crowded")
    libdir = root / "usr/lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    (root / "lib64").mkdir()
    (root / "etc").mkdir()
    for name in ESSENTIAL:
        source = bookworm / "usr/lib/x86_64-linux-gnu" / name
        if source.exists():
            shutil.copy2(source.resolve(), libdir / name)
    (root / "lib64/ld-linux-x86-64.so.2").symlink_to("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    (root / "lib").symlink_to("usr/lib")
    shutil.copy2(bookworm / "etc/os-release", root / "etc/os-release")
    shutil.copy2(bookworm / "etc/ld.so.conf", root / "etc/ld.so.conf")
    shutil.copytree(bookworm / "etc/ld.so.conf.d", root / "etc/ld.so.conf.d")
    library = build_c("libshared.c", cflags=["-shared", "-fPIC"], out_name="libshared_plain.so")
    for index in range(EXTRA_LIBRARIES):
        shutil.copy2(library, libdir / f"libextra{index}.so.1")
    return root


def test_check_in_a_root_reads_a_handful_of_files_where_targets_reads_them_all(crowded_root: Path) -> None:
    program = build_c("hello.c", out_name="hello")
    with counted_reads() as inventory:
        described = target_from_root(crowded_root)  # what `targets --root` shows: every library's soname
    with counted_reads() as checked:
        batch = check_files(CheckRequest(files=(str(program),), roots=(crowded_root,)))
    assert len([s for s in described.base_sonames or () if s.startswith("libextra")]) == EXTRA_LIBRARIES
    assert inventory[0] >= EXTRA_LIBRARIES  # at least one read of each library
    assert checked[0] < 60, checked  # libc, its version nodes, the loader: not the 400 others
    (result,) = batch.results
    assert result.verdict == "runs", result.findings


def test_the_root_target_of_a_check_has_the_same_libc_and_nodes(crowded_root: Path) -> None:
    full = target_from_root(crowded_root)
    lean = target_from_root(crowded_root, base_sonames=False)
    assert lean.base_sonames is None
    assert (lean.name, lean.arch, lean.libc, lean.libc_version) == (
        full.name,
        full.arch,
        full.libc,
        full.libc_version,
    )
    assert lean.version_nodes == full.version_nodes
    assert "GLIBC" in lean.version_nodes and "2.36" in lean.version_nodes["GLIBC"]


def test_check_in_the_crowded_root_agrees_with_its_loader(crowded_root: Path) -> None:
    """Ground truth for the lean root: the program runs there (chroot)."""
    program = build_c("hello.c", out_name="hello")
    inside = crowded_root / "hello"
    shutil.copy2(program, inside)
    try:
        done = subprocess.run(["chroot", crowded_root, "/hello"], capture_output=True, text=True, timeout=30)
    finally:
        inside.unlink()
    assert done.returncode == 0, done.stderr
