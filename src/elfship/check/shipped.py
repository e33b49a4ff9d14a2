"""What travels with a program: the libraries it reaches through $ORIGIN-relative RPATH/RUNPATH entries
that exist beside it (a wheel's `<pkg>.libs/`, an application's `lib/` next to its `bin/`, a bundle).

Everything else must come from the target. The libraries found here are checked too: their own NEEDED and
version needs against the target, as the program's are.
"""

from __future__ import annotations

import os

from elfship.abi import highest_version, split_version_node
from elfship.elf import ElfInfo, read_elf
from elfship.errors import ElfError
from elfship.record import record
from elfship.resolve.dst import directory_of, expand_glibc, has_origin, join

MAX_SHIPPED = 512  # a payload larger than this is not read further (every read is bounded)


@record
class Shipped:
    soname: str  # the DT_NEEDED name it answers
    path: str  # where it was found beside the program
    info: ElfInfo
    needed_by: str | None  # the soname of the shipped library that needs it; None = the program


def shipped_libraries(program: ElfInfo) -> dict[str, Shipped]:
    """soname -> the library that travels with `program`, breadth first, as ld.so would reach it.

    Only $ORIGIN entries count: an absolute RPATH names a directory of the target, not of the payload.
    A candidate must be an ELF file of the program's machine and class (ld.so skips others).
    """
    shipped: dict[str, Shipped] = {}
    queue: list[tuple[ElfInfo, str | None]] = [(program, None)]
    while queue and len(shipped) < MAX_SHIPPED:
        needer, needer_soname = queue.pop(0)
        directories = _origin_directories(needer)
        for soname in needer.needed:
            if soname in shipped or "/" in soname or not directories:
                continue
            found = _find(soname, directories, program)
            if found is not None:
                shipped[soname] = Shipped(soname, found.path, found, needer_soname)
                queue.append((found, soname))
    return shipped


def _origin_directories(info: ElfInfo) -> list[str]:
    """The $ORIGIN-relative search directories of one object (RUNPATH, else RPATH), expanded."""
    origin = directory_of(os.path.realpath(info.path))
    entries = info.runpath or info.rpath
    platform = info.machine
    expanded = [
        expand_glibc(e, origin=origin, lib="lib", platform=platform) for e in entries if has_origin(e)
    ]
    return [os.path.normpath(e.path) for e in expanded if e is not None]


def _find(soname: str, directories: list[str], program: ElfInfo) -> ElfInfo | None:
    for directory in directories:
        candidate = join(directory, soname)
        if not os.path.isfile(candidate):
            continue
        try:
            info = read_elf(candidate)
        except (ElfError, OSError):
            continue  # ld.so skips what it cannot load and searches on
        if (info.machine, info.elf_class) == (program.machine, program.elf_class):
            return info
    return None


def placed_beside(shipped: Shipped, program_host_path: str, program_placed_at: str) -> str:
    """Where a shipped library stands when the program is placed at `program_placed_at` inside a root:
    the same path relative to the program's directory as on this machine (lib/ beside bin/ stays so), under
    the name the loader opens (the soname, even where that is a link to libfoo.so.1.2.3 on this machine)."""
    origin = directory_of(os.path.realpath(program_host_path))
    directory, name = os.path.split(shipped.path)
    relative = os.path.relpath(os.path.join(os.path.realpath(directory), name), origin)
    return os.path.normpath(join(directory_of(program_placed_at), relative))


def offered_by_shipped(shipped: Shipped, namespace: str) -> str:
    ours = [split_version_node(node) for node in shipped.info.version_definitions]
    newest = highest_version({version for space, version in ours if space == namespace})
    if newest is None:
        return f"the {shipped.soname} shipped along ({shipped.path}) defines no {namespace} version"
    return f"the {shipped.soname} shipped along ({shipped.path}) defines up to {namespace}_{newest}"
