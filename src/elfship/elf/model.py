"""Immutable facts read from one ELF file. Nothing here touches the disk."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from elfship.record import field, record


class Kind(str, Enum):
    """What the loader will do with the file."""

    STATIC = "static"  # no PT_DYNAMIC: the kernel jumps straight in
    STATIC_PIE = "static-pie"  # ET_DYN with PT_DYNAMIC and DF_1_PIE but no interpreter and no NEEDED
    DYNAMIC = "dynamic"  # has PT_INTERP: the named loader maps its libraries
    # no PT_INTERP, a dynamic section with NEEDED or SONAME, or neither and no DF_1_PIE (a plugin)
    SHARED_LIBRARY = "shared-library"
    OBJECT = "relocatable"  # ET_REL (.o), never loaded as is
    CORE = "core"
    OTHER = "other"


class LibcFamily(str, Enum):
    GLIBC = "glibc"
    MUSL = "musl"
    NONE = "none"  # needs no libc at all (e.g. a freestanding static program)
    UNKNOWN = "unknown"


@record
class VersionNeed:
    """One library named in DT_VERNEED and the version nodes required from it."""

    library: str
    versions: tuple[str, ...]


# The one shape of "which undefined symbols need which version": library -> version -> symbols. Everything
# that reads or renders it (read_version_symbols, ElfInfo.symbols_by_version, inspect, check) speaks this.
VersionSymbols = Mapping[str, Mapping[str, tuple[str, ...]]]
# How a frozen ElfInfo stores it: (library, version, symbols) rows, sorted by library then version.
VersionSymbolRows = tuple[tuple[str, str, tuple[str, ...]], ...]


@record
class LibcInfo:
    family: LibcFamily
    # Highest GLIBC_x.y required (what the target glibc must be at least); None when not applicable.
    min_version: str | None


@record
class ElfInfo:
    """Everything elfship knows about one ELF file after one parse."""

    path: str
    size: int
    elf_class: int  # 32 or 64
    little_endian: bool
    machine: str  # normalised name: x86_64, i386, aarch64, arm, riscv64, ppc64le, s390x, ...
    e_machine: int
    e_type: int
    kind: Kind
    interpreter: str | None
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    flags: tuple[str, ...]  # names from DT_FLAGS and DT_FLAGS_1, e.g. BIND_NOW, NOW, PIE, NODEFLIB, ORIGIN
    version_needs: tuple[VersionNeed, ...]
    version_definitions: tuple[str, ...]  # non-base VERDEF names, e.g. GLIBC_2.2.5
    libc: LibcInfo
    build_id: str | None
    min_kernel: str | None  # from NT_GNU_ABI_TAG, e.g. "3.2.0"
    isa_level: str | None  # x86-64-v2/v3/v4 from GNU property notes (x86 only); None = baseline/unknown
    dynamic_symbol_count: int | None  # from DT_HASH or DT_GNU_HASH
    stripped: bool | None  # None when the file has no section headers to tell
    debug_info: bool | None
    sections: tuple[str, ...] = field(default=())  # section names when section headers exist
    # Static glibc only: True when NSS code is linked in (getaddrinfo, getpwnam, ...), which then dlopens the
    # build host's libnss_* modules at run time. None when the question does not apply.
    uses_nss: bool | None = None
    inode: tuple[int, int] = (0, 0)  # (st_dev, st_ino), so callers can share work between hard links
    # Filled by read_elf(path, with_symbols=True) only; None means "not asked", () means "none".
    version_symbols: VersionSymbolRows | None = None

    @property
    def endianness(self) -> str:
        return "little" if self.little_endian else "big"

    @property
    def is_dynamic(self) -> bool:
        return self.kind in (Kind.DYNAMIC, Kind.SHARED_LIBRARY)

    @property
    def nodeflib(self) -> bool:
        return "NODEFLIB" in self.flags

    def symbols_by_version(self) -> VersionSymbols:
        """library -> version -> symbols, as read_version_symbols() returns it (read with with_symbols=True)."""
        if self.version_symbols is None:
            raise ValueError(f"{self.path}: read with read_elf(path, with_symbols=True) to get symbols")
        return symbols_from_rows(self.version_symbols)

    def versions_needed_from(self, library: str) -> tuple[str, ...]:
        for need in self.version_needs:
            if need.library == library:
                return need.versions
        return ()


def symbols_from_rows(rows: VersionSymbolRows) -> VersionSymbols:
    """library -> version -> symbols, from the reader's (library, version, symbols) rows."""
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for library, version, names in rows:
        result.setdefault(library, {})[version] = names
    return result
