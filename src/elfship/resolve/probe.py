"""Try one candidate file the way the loader's open_verify does: skip, accept, or stop with an error.

glibc (elf/dl-load.c open_verify): a file of the other ELF class or of another machine is skipped and the
search goes on; a file that is not ELF, has the wrong byte order, or cannot be read is a fatal error that
ends the program start ("invalid ELF header"). musl opens the first file that exists and fails if it cannot
map it.
"""

from __future__ import annotations

import os
import struct

from elfship.elf import ElfInfo
from elfship.elf.constants import ELF_MAGIC, ET_DYN, ET_EXEC
from elfship.errors import ElfError
from elfship.record import record
from elfship.resolve.rootfs import (
    OUTCOME_UNREADABLE,
    FileView,
    Located,
    read_elf_located,
    read_located,
)

_Key = tuple[int, int, int, int]

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import TypeVar

    _V = TypeVar("_V")

FOUND = "found"
WRONG_CLASS = "wrong class"
WRONG_MACHINE = "wrong machine"
NEWER_KERNEL = "needs a newer kernel"
EI_OSABI_SYSV, EI_OSABI_GNU = 0, 3


@record
class Expectation:
    """What the loader of the program accepts."""

    elf_class: int  # 32 or 64
    little_endian: bool
    e_machine: int
    musl: bool = False


@record
class Probe:
    outcome: str  # FOUND, "absent", WRONG_CLASS, ..., or the fatal error text
    fatal: bool = False  # the loader stops here with an error instead of searching on
    located: Located | None = None
    info: ElfInfo | None = None

    @property
    def found(self) -> bool:
        return self.outcome == FOUND


class ElfCache:
    """One parse per file, shared by every program that maps it (keyed by device, inode, size, mtime)."""

    def __init__(self, limit: int = 20000) -> None:
        self._infos: dict[tuple[int, int, int, int], ElfInfo | ElfError] = {}
        self._heads: dict[tuple[int, int, int, int], bytes | OSError] = {}
        self.limit = limit

    @staticmethod
    def key(located: Located) -> tuple[int, int, int, int]:
        st = located.st
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def head(self, located: Located) -> bytes:
        key = self.key(located)
        cached = self._heads.get(key)
        if cached is None:
            head = read_located(located, 64, whole=False)  # opened inside its root, never a FIFO
            cached = head if isinstance(head, bytes) else OSError(0, head)
            self._store(self._heads, key, cached)
        if isinstance(cached, OSError):
            raise cached
        return cached

    def info(self, located: Located) -> ElfInfo:
        key = self.key(located)
        cached = self._infos.get(key)
        if cached is None:
            try:
                cached = read_elf_located(located)
            except ElfError as exc:
                cached = exc
            self._store(self._infos, key, cached)
        if isinstance(cached, ElfError):
            raise cached
        return cached

    def store_info(self, key: _Key, info: ElfInfo | ElfError) -> None:
        """Seed the cache with a parse made elsewhere (another process of the same scan)."""
        self._store(self._infos, key, info)

    def _store(self, table: dict[_Key, _V], key: _Key, value: _V) -> None:
        if len(table) >= self.limit:
            table.clear()  # a scan of a whole system stays bounded; the next files refill what they need
        table[key] = value


def header_problem(head: bytes, expect: Expectation) -> tuple[str, bool] | None:
    """(outcome, fatal) when the loader would not take this file, None when the header is acceptable."""
    ehdr_size = 64 if expect.elf_class == 64 else 52
    if len(head) < ehdr_size:
        return "file too short", True
    if head[:4] != ELF_MAGIC:
        return "invalid ELF header", True
    file_class = {1: 32, 2: 64}.get(head[4])
    if file_class != expect.elf_class:
        return WRONG_CLASS, expect.musl
    if head[5] != (1 if expect.little_endian else 2):
        return "ELF file data encoding does not match", True
    if head[6] != 1:
        return "ELF file version ident does not match current one", True
    if not expect.musl:
        if head[7] not in (EI_OSABI_SYSV, EI_OSABI_GNU):
            return "ELF file OS ABI invalid", True
        if head[7] == EI_OSABI_SYSV and head[8] != 0:
            return "ELF file ABI version invalid", True
        if any(head[9:16]):
            return "nonzero padding in e_ident", True
    order = "<" if expect.little_endian else ">"
    e_type, e_machine, e_version = struct.unpack_from(order + "HHI", head, 16)
    if e_version != 1:
        return "ELF file version does not match current one", True
    if e_machine != expect.e_machine:
        return WRONG_MACHINE, expect.musl
    if e_type not in (ET_DYN, ET_EXEC):
        return "only ET_DYN and ET_EXEC can be loaded", True
    phentsize_offset = 54 if expect.elf_class == 64 else 42
    (phentsize,) = struct.unpack_from(order + "H", head, phentsize_offset)
    if phentsize != (56 if expect.elf_class == 64 else 32):
        return "ELF file's phentsize not the expected size", True
    return None


def _kernel_version() -> tuple[int, ...]:
    release = os.uname().release.split("-", 1)[0]
    return tuple(int(p) for p in release.split(".") if p.isdigit())


KERNEL = _kernel_version()


def probe(view: FileView, path: str, expect: Expectation, elf_cache: ElfCache) -> Probe:
    found = view.locate(path)
    if isinstance(found, str):
        return Probe(found)
    if found.is_dir:
        # open() succeeds on a directory, then reading it fails: glibc gives up with this error.
        return Probe("cannot read file data: Is a directory", fatal=not expect.musl)
    try:
        head = elf_cache.head(found)
    except OSError as exc:
        return Probe(
            OUTCOME_UNREADABLE if exc.strerror == OUTCOME_UNREADABLE else f"cannot read ({exc.strerror})"
        )
    problem = header_problem(head, expect)
    if problem is not None:
        return Probe(problem[0], fatal=problem[1], located=found)
    try:
        info = elf_cache.info(found)
    except ElfError as exc:
        return Probe(exc.problem, fatal=True, located=found)
    if not expect.musl and info.min_kernel and _version(info.min_kernel) > KERNEL:
        return Probe(NEWER_KERNEL, located=found, info=info)
    return Probe(FOUND, located=found, info=info)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())
