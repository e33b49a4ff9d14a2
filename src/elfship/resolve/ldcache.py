"""Read /etc/ld.so.cache exactly as glibc's dl-cache.c does, and look names up with its selection rules.

Formats (glibc elf/dl-cache.h):
- new, "glibc-ld.so.cache1.1": 48-byte header, 24-byte entries (flags, key, value, osversion, hwcap),
  string offsets relative to the header; an optional extension block names the glibc-hwcaps subdirectories.
- old, "ld.so-1.7.0": 16-byte header, 12-byte entries (flags, key, value), strings after the entries.
- old followed by new (ldconfig --format=compat): glibc then uses the new part only.
A file glibc would reject (bad magic, truncated, wrong byte order) makes the loader ignore the cache; we
report it as a CacheError so the caller can warn and carry on without a cache, as ld.so does.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping

from elfship.record import field, record

OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache1.1"
NEW_MAGIC_PREFIX = b"glibc-ld.so.cache"
OLD_HEADER_SIZE, OLD_ENTRY_SIZE = 16, 12
NEW_HEADER_SIZE, NEW_ENTRY_SIZE = 48, 24
NEW_ALIGN = 8  # __alignof__ (struct cache_file_new): the entries hold a uint64_t
EXTENSION_MAGIC = 0xEAA42174
EXTENSION_TAG_GENERATOR = 0
EXTENSION_TAG_GLIBC_HWCAPS = 1
HWCAP_EXTENSION = 1 << 62
ISA_LEVEL_MASK = (1 << 10) - 1
ENDIAN_UNSET, ENDIAN_INVALID, ENDIAN_LITTLE, ENDIAN_BIG = 0, 1, 2, 3
# A real cache is well under 1 MiB (a full desktop: ~200 KiB). A bigger file is refused whole: it could
# only be hostile, and its entries would cost ~10x their size in memory.
MAX_CACHE_SIZE = 4 << 20
MAX_STRING = 4096  # PATH_MAX: no name or path the loader could use is longer

# Cache entry flags (glibc elf/ldconfig.h / dl-cache.h).
FLAG_ELF_LIBC6 = 0x0003
FLAGS_BY_ARCH: dict[tuple[str, int], int] = {
    ("x86_64", 64): 0x0303,
    ("x86_64", 32): 0x0803,  # x32
    ("sparc64", 64): 0x0103,
    ("ia64", 64): 0x0203,
    ("s390x", 64): 0x0403,
    ("ppc64", 64): 0x0503,
    ("ppc64le", 64): 0x0503,
    ("arm", 32): 0x0903,  # hard-float; soft-float libraries carry 0x0b03
    ("aarch64", 64): 0x0A03,
    ("riscv64", 64): 0x1003,  # lp64d, the only ABI distributions ship
    ("loongarch64", 64): 0x1203,
}


@record
class CacheFlags:
    """Which entry flags the loader of one architecture accepts, and which one it prefers."""

    accepted: frozenset[int]
    preferred: int


def cache_flags_for(machine: str, elf_class: int) -> CacheFlags:
    preferred = FLAGS_BY_ARCH.get((machine, elf_class), FLAG_ELF_LIBC6)
    # x86_64 and aarch64 insist on their own flag; the generic rule also takes the bare libc6 flag (and 1, the
    # libc5-era ELF flag) so that 32-bit i386/arm/ppc/s390 caches work.
    if preferred in (0x0303, 0x0803, 0x0A03):
        return CacheFlags(frozenset({preferred}), preferred)
    return CacheFlags(frozenset({1, FLAG_ELF_LIBC6, preferred}), preferred)


class CacheError(Exception):
    """The file is not a cache glibc would use; the message says why."""


@record
class CacheEntry:
    name: str
    path: str
    flags: int
    osversion: int
    hwcap: int  # 0 in the old format
    hwcaps_subdir: str | None  # "x86-64-v3" for a glibc-hwcaps entry
    isa_level: int  # x86 ISA level ldconfig recorded for a glibc-hwcaps entry (0 = none)

    @property
    def named_hwcap(self) -> bool:
        return ((self.hwcap >> 32) & ~ISA_LEVEL_MASK) == (HWCAP_EXTENSION >> 32)


def compare_key(name: str) -> str:
    """glibc compares cache keys with _dl_cache_libcmp: digit runs numerically. Equal keys map equal here:
    leading zeros of each digit run are dropped (libfoo.so.01 and libfoo.so.1 are one key)."""
    return _LEADING_ZEROS.sub("", name) if "0" in name else name


_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


@record
class LdCache:
    path: str  # the cache as the loader names it (/etc/ld.so.cache)
    format: str  # "new", "old" or "old+new"
    entries: tuple[CacheEntry, ...]
    generator: str | None = None
    warnings: tuple[str, ...] = ()
    _by_key: dict[str, tuple[CacheEntry, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[CacheEntry]] = {}
        for entry in self.entries:
            grouped.setdefault(compare_key(entry.name), []).append(entry)
        self._by_key.update((k, tuple(v)) for k, v in grouped.items())

    def candidates(self, name: str) -> tuple[CacheEntry, ...]:
        return self._by_key.get(compare_key(name), ())

    def names(self) -> set[str]:
        return {entry.name for entry in self.entries}

    def lookup(
        self,
        name: str,
        flags: CacheFlags,
        hwcaps_priority: Mapping[str, int],
        isa_level_ok: Callable[[int], bool],
        legacy_hwcap_ok: Callable[[int], bool],
    ) -> str | None:
        """The path ld.so would try for NAME (glibc search_cache), or None.

        hwcaps_priority: active glibc-hwcaps subdirectory -> priority (1 = best); others are unusable.
        """
        best: str | None = None
        best_priority = 0
        new_format = self.format != "old"
        for entry in self.candidates(name):
            if entry.flags not in flags.accepted:
                continue
            named = new_format and entry.named_hwcap
            if new_format:
                if named and not isa_level_ok(entry.isa_level):
                    continue
                if not named and best is not None:
                    break  # named entries come first; an earlier match beats every plain one
                if not named and entry.hwcap and not legacy_hwcap_ok(entry.hwcap):
                    continue
                if named:
                    priority = hwcaps_priority.get(entry.hwcaps_subdir or "", 0)
                    if priority == 0 or (best is not None and priority >= best_priority):
                        continue
                    best_priority = priority
            best = entry.path
            if not named and entry.flags == flags.preferred:
                break
        return best


def parse_cache(data: bytes, path: str = "/etc/ld.so.cache", *, little_endian: bool = True) -> LdCache:
    """Parse cache bytes. little_endian is the loader's byte order, used when the file does not say."""
    if len(data) > NEW_HEADER_SIZE and data.startswith(NEW_MAGIC_PREFIX):
        if not data.startswith(NEW_MAGIC):
            raise CacheError(f"unsupported format {data[:20].decode('ascii', 'replace')!r}")
        return _parse_new(data, 0, path, little_endian, "new")
    if len(data) > OLD_HEADER_SIZE and data.startswith(OLD_MAGIC):
        return _parse_old_or_compat(data, path, little_endian)
    if not data:
        raise CacheError("empty file")
    raise CacheError("not an ld.so.cache (bad magic)")


def _parse_old_or_compat(data: bytes, path: str, little_endian: bool) -> LdCache:
    order = "<" if little_endian else ">"
    (nlibs,) = struct.unpack_from(order + "I", data, 12)
    if (len(data) - OLD_HEADER_SIZE) // OLD_ENTRY_SIZE < nlibs:
        raise CacheError(f"truncated: {nlibs} entries announced, file too short")
    end_of_entries = OLD_HEADER_SIZE + nlibs * OLD_ENTRY_SIZE
    new_start = -(-end_of_entries // NEW_ALIGN) * NEW_ALIGN
    if len(data) >= new_start + NEW_HEADER_SIZE and data[new_start:].startswith(NEW_MAGIC):
        return _parse_new(data, new_start, path, little_endian, "old+new")
    strings = _Strings(data[end_of_entries:])
    entries: list[CacheEntry] = []
    warnings: list[str] = []
    for index in range(nlibs):
        flags, key, value = struct.unpack_from(order + "iII", data, OLD_HEADER_SIZE + index * OLD_ENTRY_SIZE)
        name, where = strings.at(key), strings.at(value)
        if name is None or where is None:
            warnings.append(f"{path}: entry {index} points outside the string table; ignored")
            continue
        entries.append(CacheEntry(name, where, flags, 0, 0, None, 0))
    return LdCache(path, "old", tuple(entries), None, tuple(warnings[:5]))


def _parse_new(data: bytes, start: int, path: str, little_endian: bool, fmt: str) -> LdCache:
    endian_flag = data[start + 28] & 3
    if endian_flag == ENDIAN_INVALID:
        raise CacheError("byte order marked invalid by ldconfig")
    if endian_flag != ENDIAN_UNSET:
        little_endian = endian_flag == ENDIAN_LITTLE
    order = "<" if little_endian else ">"
    nlibs, _len_strings = struct.unpack_from(order + "II", data, start + 20)
    (extension_offset,) = struct.unpack_from(order + "I", data, start + 32)
    if (len(data) - start - NEW_HEADER_SIZE) // NEW_ENTRY_SIZE < nlibs:
        raise CacheError(f"truncated: {nlibs} entries announced, file too short")
    table = _Strings(data[start:])  # entry string offsets are relative to the new header
    hwcaps, generator, ext_warning = _read_extension(data, extension_offset, order)
    warnings = [f"{path}: {ext_warning}"] if ext_warning else []
    entries: list[CacheEntry] = []
    for index in range(nlibs):
        offset = start + NEW_HEADER_SIZE + index * NEW_ENTRY_SIZE
        flags, key, value, osversion, hwcap = struct.unpack_from(order + "iIIIQ", data, offset)
        name, where = table.at(key), table.at(value)
        if name is None or where is None:
            warnings.append(f"{path}: entry {index} points outside the string table; ignored")
            continue
        subdir = None
        isa_level = 0
        if ((hwcap >> 32) & ~ISA_LEVEL_MASK) == (HWCAP_EXTENSION >> 32):
            hw_index = hwcap & 0xFFFFFFFF
            subdir = hwcaps[hw_index] if hw_index < len(hwcaps) else None
            isa_level = (hwcap >> 32) & ISA_LEVEL_MASK
        entries.append(CacheEntry(name, where, flags, osversion, hwcap, subdir, isa_level))
    return LdCache(path, fmt, tuple(entries), generator, tuple(warnings[:5]))


def _read_extension(data: bytes, offset: int, order: str) -> tuple[list[str], str | None, str | None]:
    """(glibc-hwcaps subdirectory names by index, generator string, problem). Offsets are from file start."""
    if offset == 0:
        return [], None, None
    if offset % 4 or offset + 8 > len(data):
        return [], None, "extension block out of bounds; glibc-hwcaps entries ignored"
    magic, count = struct.unpack_from(order + "II", data, offset)
    if magic != EXTENSION_MAGIC or offset + 8 + 16 * count > len(data):
        return [], None, "bad extension block; glibc-hwcaps entries ignored"
    hwcaps: list[str] = []
    generator = None
    strings = _Strings(data)
    for index in range(count):
        tag, _flags, sect_offset, size = struct.unpack_from(order + "IIII", data, offset + 8 + 16 * index)
        if sect_offset + size > len(data):
            continue
        if tag == EXTENSION_TAG_GENERATOR:
            generator = data[sect_offset : sect_offset + min(size, MAX_STRING)].decode("utf-8", "replace")
        elif tag == EXTENSION_TAG_GLIBC_HWCAPS and size % 4 == 0 and sect_offset % 4 == 0:
            for i in range(size // 4):
                (string_offset,) = struct.unpack_from(order + "I", data, sect_offset + 4 * i)
                hwcaps.append(strings.at(string_offset) or "")
    return hwcaps, generator, None


class _Strings:
    """NUL-terminated strings of one table, each offset decoded once and never searched past MAX_STRING:
    a hostile cache whose entries all point into one long unterminated run costs one bounded scan each."""

    def __init__(self, table: bytes) -> None:
        self.table = table
        self.decoded: dict[int, str | None] = {}

    def at(self, offset: int) -> str | None:
        if offset in self.decoded:
            return self.decoded[offset]
        text = None
        if offset < len(self.table):
            end = self.table.find(b"\0", offset, offset + MAX_STRING)
            if end >= 0:
                text = self.table[offset:end].decode("utf-8", "surrogateescape")
        self.decoded[offset] = text
        return text
