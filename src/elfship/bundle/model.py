"""What a bundle is made of: the plan (what to copy and why) and the result (what was written)."""

from __future__ import annotations

from enum import Enum

from elfship.elf.model import ElfInfo
from elfship.record import field, record


class Format(str, Enum):
    DIR = "dir"
    TAR = "tar"
    SELF_EXTRACTING = "self-extracting"


class Role(str, Enum):
    """Why a file is in the bundle."""

    PROGRAM = "program"
    LOADER = "loader"  # the ELF interpreter the launcher runs the program through
    LIBRARY = "library"  # found by the resolver for the program (or an --add file)
    GLIBC = "glibc"  # a part of the bundled glibc, taken whole so no part mixes with the target's
    NSS = "nss"  # name-service modules glibc dlopens (files, dns)
    GCONV = "gconv"  # iconv modules glibc dlopens, with their configuration
    ADDED = "added"  # --add
    LAUNCHER = "launcher"
    LINK = "link"  # a symbolic link inside the bundle
    MANIFEST = "manifest"


@record
class PlannedFile:
    """One file to copy from this machine into the bundle."""

    dest: str  # path inside the bundle, e.g. "lib/libpq.so.5"
    source: str  # file on this machine (symlinks resolved)
    role: Role
    reason: str  # one line: "needed by libpq.so.5", "glibc is bundled whole", ...
    size: int
    strip_rpath: bool = False  # has RPATH/RUNPATH that could pull libraries from outside the bundle
    executable: bool = False


@record
class Excluded:
    """A library left out on purpose: the host must provide it."""

    soname: str
    pattern: str
    why: str
    needed_by: tuple[str, ...]


@record
class LoaderSetup:
    """How the launcher starts the program: which loader and which of its options."""

    path: str  # relative to the bundle ("lib/ld-linux-x86-64.so.2") or absolute (the target's own loader)
    family: str  # "glibc" or "musl"
    args: tuple[str, ...]  # options before the program, "@DIR@" = bundle directory
    argv0: bool  # the loader takes --argv0
    env: tuple[str, ...] = ()  # NAME=VALUE for the program, "@DIR@" = bundle directory


@record
class BundlePlan:
    program: ElfInfo
    program_path: str  # the input file as given
    name: str  # program name: OUT/<name>, OUT/bin/<name>
    files: tuple[PlannedFile, ...]  # everything to copy, program first
    links: tuple[tuple[str, str], ...]  # (dest, target) symbolic links inside the bundle
    loader: LoaderSetup | None  # None: a static program, nothing to launch through
    excluded: tuple[Excluded, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def is_static(self) -> bool:
        return self.loader is None


@record
class BundleEntry:
    """One path written into the bundle."""

    path: str
    role: Role
    size: int
    reason: str
    source: str | None = None  # None for generated files (launcher, manifest, links)
    link_target: str | None = None
    rpath_removed: bool = False


@record
class BundleResult:
    output: str
    format: Format
    program: str
    name: str
    libc_family: str | None  # None for a static program
    launcher: str  # "static" (compiled C launcher), "sh" (fallback script), "none" (static program copied)
    entries: tuple[BundleEntry, ...]
    excluded: tuple[Excluded, ...]
    output_size: int  # bytes on disk of OUT (sum of files for dir)
    warnings: tuple[str, ...] = field(default=())

    @property
    def files_size(self) -> int:
        """Sum of the sizes of the files that went in (links count nothing)."""
        return sum(e.size for e in self.entries if e.role is not Role.LINK)
