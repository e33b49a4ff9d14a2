"""Every dynamically linked ELF file of real systems, resolved by elfship and by the real loader.

This machine's /usr, and Debian 11, 12 and 13 minbase roots (through chroot): the set of files mapped and
the set of libraries not found must be identical. Files the host loader cannot take are left out, each
for a stated reason: another architecture (valgrind's i386 helpers), or another loader (musl programs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from elfship.elf import ElfInfo, read_elf
from elfship.errors import ElfError
from elfship.resolve import Resolver
from tests.support.fixtures import debian_root
from tests.test_resolve_support import (
    LDSO,
    Truth,
    ldso_list,
    mapped,
    missing,
    require_chroot,
    require_host_loader,
)

pytestmark = pytest.mark.slow


def elf_files(top: Path) -> Iterator[Path]:
    for directory, _dirs, files in os.walk(top):
        for name in sorted(files):
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                with path.open("rb") as handle:
                    if handle.read(4) == b"\x7fELF":
                        yield path
            except OSError:
                continue


def host_loader_takes(info: ElfInfo) -> bool:
    """Files this x86_64 glibc loader can list: x86_64 objects with its interpreter or none."""
    return (
        info.is_dynamic
        and info.machine == "x86_64"
        and info.elf_class == 64
        and info.interpreter in (None, LDSO)
    )


def candidates(tops: list[Path]) -> list[tuple[Path, ElfInfo]]:
    found: dict[Path, ElfInfo] = {}
    for top in tops:
        for path in elf_files(top):
            try:
                info = read_elf(path)
            except ElfError:
                continue
            if host_loader_takes(info):
                found.setdefault(path, info)
    return list(found.items())


def disagreements(resolver: Resolver, files: list[tuple[Path, ElfInfo]], truths: list[Truth]) -> list[str]:
    problems = []
    for (path, info), truth in zip(files, truths, strict=True):
        resolution = resolver.resolve_info(str(path), info)
        mine, theirs = mapped(resolution), truth.paths
        if mine != theirs or missing(resolution) != truth.missing:
            problems.append(
                f"{path}: only elfship {sorted(mine - theirs)}, only ld.so {sorted(theirs - mine)}, "
                f"missing elfship {sorted(missing(resolution))} ld.so {sorted(truth.missing)}"
            )
    return problems


def test_every_dynamic_elf_under_usr_agrees_with_ld_so() -> None:
    require_host_loader()
    files = candidates([Path("/usr")])
    assert len(files) > 100
    with ThreadPoolExecutor(2) as pool:
        truths = list(pool.map(lambda item: ldso_list(item[0]), files))
    problems = disagreements(Resolver(ld_library_path=[]), files, truths)
    assert problems == [], f"{len(problems)} of {len(files)} disagree:\n" + "\n".join(problems[:20])


@pytest.mark.parametrize("suite", ["bullseye", "bookworm", "trixie"])
def test_every_dynamic_elf_of_a_debian_root_agrees_with_its_loader(suite: str) -> None:
    require_host_loader()
    require_chroot()
    root = debian_root(suite)
    files = candidates([root / "usr/bin", root / "usr/sbin", root / "usr/lib"])
    assert len(files) > 100
    inside = len(str(root))
    with ThreadPoolExecutor(2) as pool:
        truths = list(pool.map(lambda item: ldso_list(str(item[0])[inside:], root=root), files))
    problems = disagreements(Resolver(root, ld_library_path=[]), files, truths)
    assert problems == [], f"{len(problems)} of {len(files)} disagree:\n" + "\n".join(problems[:20])
