"""Results of one emulated program start: what the loader would map, from where, and why."""

from __future__ import annotations

import os

from elfship.elf.model import ElfInfo
from elfship.record import record

# Values of ResolvedLibrary.found_via (and the start of SearchStep.source).
VIA_RPATH = "rpath"
VIA_LD_LIBRARY_PATH = "LD_LIBRARY_PATH"
VIA_RUNPATH = "runpath"
VIA_CACHE = "ld.so.cache"
VIA_DEFAULT = "default"
VIA_INTERPRETER = "interpreter"
VIA_DIRECT = "direct path"  # a DT_NEEDED entry with a '/' in it is opened as is, never searched
VIA_MISSING = "missing"


def rpath_of(needer: str) -> str:
    """found_via for a directory from the DT_RPATH of an object up the chain of loaders."""
    return f"{VIA_RPATH} of {needer}"


@record
class SearchStep:
    """One place the loader looked."""

    source: str  # "rpath", "rpath of <needer>", "LD_LIBRARY_PATH", "runpath", "ld.so.cache", "default"
    path: str  # candidate path tried (as seen inside the root)
    outcome: str  # "found", "absent", "wrong class", "wrong machine", "unreadable", "not in cache", ...


@record
class ResolvedLibrary:
    soname: str  # the DT_NEEDED name that first loaded it (for the interpreter: its DT_SONAME)
    path: str | None  # absolute path as the loader names it, inside the root; None = missing
    host_path: str | None  # the file on this machine (root prefix applied, symlinks resolved in the root)
    found_via: str  # one of the VIA_* values, or "rpath of X"
    needed_by: tuple[str, ...]  # every object (program path or soname) that named it in DT_NEEDED
    info: ElfInfo | None
    steps: tuple[SearchStep, ...]  # steps tried (all of them when missing)
    # Why the loader would stop here even though a file was found (e.g. "invalid ELF header"): ld.so treats
    # these as fatal instead of searching on. None when the library loads or is simply absent.
    error: str | None = None
    # A human hint for a missing library, e.g. it sits in an ld.so.conf directory but ld.so.cache is stale.
    hint: str | None = None

    @property
    def missing(self) -> bool:
        return self.path is None


@record
class Resolution:
    program: ElfInfo
    interpreter: ResolvedLibrary | None
    # Every object the loader would map (not the program), in load order. Like ld.so's own list, the
    # interpreter appears here where an object first names it (libc.so.6 does), and not at all otherwise.
    libraries: tuple[ResolvedLibrary, ...]
    missing: tuple[ResolvedLibrary, ...]
    edges: tuple[tuple[str, str], ...]  # (needer, needed soname), for the tree view
    warnings: tuple[str, ...] = ()  # e.g. a corrupt ld.so.cache, an ld.so.conf include loop
    libc_family: str = "glibc"  # whose loader rules were applied: "glibc" or "musl"
    root: str | None = None  # the root filesystem resolved in; None = this machine
    isa: str | None = None  # the glibc-hwcaps level used (x86-64-v3, ...); None = no glibc-hwcaps
    program_name: str = ""  # how the program is named in needed_by and edges
    # Against a root: where the program stands inside it; placed_at is set when it came from outside.
    program_path: str | None = None
    placed_at: str | None = None

    @property
    def ok(self) -> bool:
        """True when every library was found and the loader would not stop on any of them."""
        return not self.missing and (self.interpreter is None or not self.interpreter.missing)

    def by_soname(self) -> dict[str, ResolvedLibrary]:
        found = {lib.soname: lib for lib in self.libraries}
        found.update((lib.soname, lib) for lib in self.missing if lib.soname not in found)
        return found


@record
class ProgramLocation:
    """Where the program of one start is: the file its bytes come from, and where the loader sees it.

    Against a root, `path` is always inside the root: either the program's own place there (it was given as
    ROOT/...), or the place it was put at because it comes from outside (`placed`). $ORIGIN is the
    directory of `real_path`, never a directory of this machine.
    """

    host_path: str  # the file read on this machine (for a file inside a root: resolved inside it)
    path: str  # as the loader names it (inside the root when there is one)
    real_path: str  # symlinks resolved (inside the root): the kernel hands ld.so this path
    st: os.stat_result | None  # of the file read: setuid bits, file identity
    placed: bool = False  # it comes from outside the root and stands at `path` inside it
