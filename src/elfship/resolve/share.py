"""Share one dependency walk between programs that would load the same way.

Two programs with the same DT_NEEDED list, RPATH, RUNPATH, flags and loader map the same libraries from
the same places (on one filesystem, with one LD_LIBRARY_PATH): only their own name differs. A scan of
/usr/bin meets hundreds of programs that need exactly libc.so.6, so the walk is done once per shape.
The shortcut is skipped when the program's own DT_SONAME is among the names the walk met, because then
ld.so would have matched that name to the program itself.
"""

from __future__ import annotations

from elfship.elf import ElfInfo
from elfship.record import record, replace
from elfship.resolve.model import Resolution, ResolvedLibrary


@record
class SharedWalk:
    resolution: Resolution
    names_seen: frozenset[str]  # every DT_NEEDED name met during the walk

    def usable_for(self, info: ElfInfo) -> bool:
        return info.soname is None or info.soname not in self.names_seen


def shape_key(info: ElfInfo, origin: str | None, secure: bool, outside_root: bool) -> tuple[object, ...]:
    """What decides the walk besides the program's name. origin only matters with $ORIGIN-like tokens."""
    uses_tokens = any("$" in element for element in (*info.rpath, *info.runpath))
    return (
        info.machine,
        info.elf_class,
        info.interpreter,
        info.libc.family,
        info.needed,
        info.rpath,
        info.runpath,
        info.nodeflib,
        origin if uses_tokens else None,
        secure,
        outside_root,
    )


def reuse(shared: SharedWalk, program_name: str, info: ElfInfo) -> Resolution:
    """The shared walk, renamed for another program."""
    old = shared.resolution.program_name

    def rename(name: str) -> str:
        return program_name if name == old else name

    def renamed(lib: ResolvedLibrary) -> ResolvedLibrary:
        if old not in lib.needed_by:
            return lib
        needed_by = tuple(rename(n) for n in lib.needed_by)  # the constructor: much cheaper than replace()
        return ResolvedLibrary(
            lib.soname,
            lib.path,
            lib.host_path,
            lib.found_via,
            needed_by,
            lib.info,
            lib.steps,
            lib.error,
            lib.hint,
        )

    base = shared.resolution
    return replace(
        base,
        program=info,
        program_name=program_name,
        interpreter=renamed(base.interpreter) if base.interpreter else None,
        libraries=tuple(renamed(lib) for lib in base.libraries),
        missing=tuple(renamed(lib) for lib in base.missing),
        edges=tuple((rename(a), b) for a, b in base.edges),
    )
