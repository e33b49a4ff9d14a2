"""PT_DYNAMIC: libraries, search paths, flags, symbol versions. Read through program headers only."""

from __future__ import annotations

import array
import struct
import sys
from collections.abc import Callable
from operator import itemgetter

from elfship.elf import constants as c
from elfship.elf.budget import (
    MAX_DYNAMIC_SYMBOLS,
    MAX_NEEDED,
    MAX_VERSION_ENTRIES,
)
from elfship.elf.headers import AddressMap, Layout, Segment
from elfship.elf.image import Image, StringTable
from elfship.errors import ElfError
from elfship.record import NamedTuple

MAX_DYNAMIC_ENTRIES = 1 << 16
CHAIN_BLOCK = 64  # GNU hash chain bytes searched in the first step for the end bit (real chains: 1-5 words)
CHAIN_BLOCK_MAX = 1 << 16  # each further step searches 16 times more, up to this
# Maps each byte to 1 when its low bit is set: the end-of-chain bit of a GNU hash chain word.
LOW_BIT = bytes(b & 1 for b in range(256))
GNU_HASH_HEADER = {True: struct.Struct("<III"), False: struct.Struct(">III")}  # nbuckets, symoffset, bloom
# Dynamic tags whose value is the address of a table; one of them ends .dynsym when nothing else says where.
TABLE_ADDRESS_TAGS = (
    c.DT_HASH,
    c.DT_STRTAB,
    c.DT_GNU_HASH,
    c.DT_VERSYM,
    c.DT_VERNEED,
    c.DT_VERDEF,
    c.DT_RELA,
    c.DT_REL,
    c.DT_JMPREL,
    c.DT_RELR,
)


class DynamicTable(NamedTuple):
    """The entries of PT_DYNAMIC plus the string table they point into (a view, not a copy).

    NamedTuples, not records, for this module's values: one or more per parse, and cheaper to build."""

    entries: tuple[tuple[int, int], ...]
    first_values: dict[int, int]
    strtab: StringTable | None
    # first(tag): a tag's first value, or None. first_values.get itself, so the dozen lookups a file makes
    # are C calls.
    first: Callable[[int], int | None]

    def values(self, tag: int) -> list[int]:
        return [value for t, value in self.entries if t == tag]


def read_dynamic(image: Image, layout: Layout, segment: Segment, addresses: AddressMap) -> DynamicTable:
    entry_size = layout.dyn.size
    count = min(
        segment.filesz // entry_size, MAX_DYNAMIC_ENTRIES, max(image.size - segment.offset, 0) // entry_size
    )
    raw = image.iter_unpack(layout.dyn, segment.offset, count, "dynamic section")
    entries: list[tuple[int, int]] = list(raw)  # type: ignore[arg-type]  # (tag, value): the dyn struct's two fields
    tags = list(map(itemgetter(0), entries))
    if c.DT_NULL in tags:
        del entries[tags.index(c.DT_NULL) :]
    # Each tag's first value: built backwards, so the first one is written last.
    first: dict[int, int] = dict(reversed(entries))
    strtab = first.get(c.DT_STRTAB)
    if strtab is None:
        return DynamicTable(tuple(entries), first, None, first.get)
    offset = addresses.offset(strtab)
    if offset is None:
        raise image.fail(f"corrupt: DT_STRTAB address {strtab:#x} is outside every loadable segment")
    image.check_range(offset, 0, "DT_STRTAB")
    strsz = first.get(c.DT_STRSZ) or (image.size - offset)
    return DynamicTable(tuple(entries), first, image.strings(offset, strsz), first.get)


def dynamic_string(image: Image, table: DynamicTable, string_offset: int, what: str) -> str:
    strtab = table.strtab
    if strtab is None:
        raise no_string_table(image, what)
    return strtab.get(string_offset, what)


def no_string_table(image: Image, what: str) -> ElfError:
    return image.fail(f"corrupt: {what} given but no DT_STRTAB")


def needed_names(image: Image, table: DynamicTable) -> tuple[str, ...]:
    offsets = table.values(c.DT_NEEDED)
    if len(offsets) > MAX_NEEDED:
        raise image.budget.exceeded(f"more than {MAX_NEEDED:,} DT_NEEDED entries")
    if table.strtab is None:
        return tuple(dynamic_string(image, table, v, "DT_NEEDED") for v in offsets)  # raises for any entry
    return tuple(table.strtab.get_all(offsets, "DT_NEEDED"))


def split_path_list(value: str) -> tuple[str, ...]:
    # ld.so splits on ':' (and ';' is not special); empty elements mean the current directory in glibc,
    # but we keep them out of reports: they are almost always a build mistake, flagged elsewhere.
    return tuple(part for part in value.split(":") if part)


_FLAG_NAMES: dict[tuple[int, int], tuple[str, ...]] = {}  # (DT_FLAGS, DT_FLAGS_1) -> names; few pairs exist


def flag_names(table: DynamicTable) -> tuple[str, ...]:
    key = (table.first(c.DT_FLAGS) or 0, table.first(c.DT_FLAGS_1) or 0)
    names = _FLAG_NAMES.get(key)
    if names is None:
        if len(_FLAG_NAMES) >= 4096:  # hostile files can name any values: the memo stays bounded
            _FLAG_NAMES.clear()
        names = _FLAG_NAMES[key] = _flag_names(table)
    return names


def _flag_names(table: DynamicTable) -> tuple[str, ...]:
    names: list[str] = []
    for tag, table_names in ((c.DT_FLAGS, c.DT_FLAGS_NAMES), (c.DT_FLAGS_1, c.DT_FLAGS_1_NAMES)):
        value = table.first(tag) or 0
        names.extend(name for bit, name in table_names.items() if value & bit and name not in names)
    return tuple(names)


class VersionNeedEntry(NamedTuple):
    library: str
    versions: tuple[str, ...]  # the name of each required version
    indexes: tuple[int, ...]  # its vna_other: the .gnu.version value symbols bound to it carry


def read_version_needs(
    image: Image, layout: Layout, table: DynamicTable, addresses: AddressMap
) -> tuple[VersionNeedEntry, ...]:
    address = table.first(c.DT_VERNEED)
    if address is None:
        return ()
    offset = addresses.offset(address)
    if offset is None:
        raise image.fail(f"corrupt: DT_VERNEED address {address:#x} is outside every loadable segment")
    declared = table.first(c.DT_VERNEEDNUM) or MAX_VERSION_ENTRIES
    files: list[int] = []  # string offsets of each need's file name
    versions: list[list[tuple[int, int]]] = []  # (vna_other, string offset) of each need's versions
    budget, strtab = image.budget, table.strtab
    unpack, size, end = layout.verneed.unpack_from, layout.verneed.size, image.size
    for _ in range(min(declared, MAX_VERSION_ENTRIES)):
        if offset < 0 or offset + size > end:
            image.check_range(offset, size, "version need")  # raises, naming the structure
        _, count, file_name, aux, next_offset = unpack(image.data, offset)
        budget.version_entries += 1
        if budget.version_entries > MAX_VERSION_ENTRIES:
            raise budget.too_many_versions()
        if strtab is None:
            raise no_string_table(image, "version need file")
        files.append(file_name)
        versions.append(_read_vernaux(image, layout, offset + aux, count))
        if next_offset == 0:
            break
        offset += next_offset
    if strtab is None:
        return ()
    # The strings last, each table's in one call: a dozen a file, every file.
    libraries = strtab.get_all(files, "version need file")
    names = strtab.get_all([name for need in versions for _, name in need], "version need name")
    entries = []
    start = 0
    for library, need in zip(libraries, versions, strict=True):
        entries.append(
            VersionNeedEntry(
                library, tuple(names[start : start + len(need)]), tuple(map(itemgetter(0), need))
            )
        )
        start += len(need)
    return tuple(entries)


def _read_vernaux(image: Image, layout: Layout, offset: int, count: int) -> list[tuple[int, int]]:
    """(vna_other, name's string offset) of each entry. The check of Image.unpack is written inline (its
    call raises the same error): 10 entries a file, every file."""
    versions = []
    budget = image.budget
    unpack, size, end = layout.vernaux.unpack_from, layout.vernaux.size, image.size
    for _ in range(min(count, MAX_VERSION_ENTRIES)):
        if offset < 0 or offset + size > end:
            image.check_range(offset, size, "version need entry")
        _, _, other, name, next_offset = unpack(image.data, offset)
        # Counted over the whole file: hostile needs can all share one long chain of entries.
        budget.version_entries += 1
        if budget.version_entries > MAX_VERSION_ENTRIES:
            raise budget.too_many_versions()
        versions.append((other, name))
        if next_offset == 0:
            break
        offset += next_offset
    return versions


def read_version_definitions(
    image: Image, layout: Layout, table: DynamicTable, addresses: AddressMap
) -> tuple[str, ...]:
    """Names of the versions this object defines, without the base entry (which repeats the soname)."""
    address = table.first(c.DT_VERDEF)
    if address is None:
        return ()
    offset = addresses.offset(address)
    if offset is None:
        raise image.fail(f"corrupt: DT_VERDEF address {address:#x} is outside every loadable segment")
    declared = table.first(c.DT_VERDEFNUM) or MAX_VERSION_ENTRIES
    names: list[str] = []
    for _ in range(min(declared, MAX_VERSION_ENTRIES)):
        _, flags, _, count, _, aux, next_offset = image.unpack(layout.verdef, offset, "version definition")
        image.budget.version_entries += 1
        if image.budget.version_entries > MAX_VERSION_ENTRIES:
            raise image.budget.too_many_versions()
        if count and not flags & c.VER_FLG_BASE:
            name_offset, _ = image.unpack(layout.verdaux, offset + aux, "version definition name")
            names.append(dynamic_string(image, table, name_offset, "version definition name"))
        if next_offset == 0:
            break
        offset += next_offset
    return tuple(names)


def dynamic_symbol_count(
    image: Image,
    layout: Layout,
    table: DynamicTable,
    addresses: AddressMap,
    dynsym_section_size: Callable[[], int | None],
) -> int | None:
    """How many entries .dynsym has: DT_HASH's nchain, else the end of DT_GNU_HASH's last chain.

    An empty GNU hash table (what ld writes when no symbol is exported: one empty bucket, symoffset 1) tells
    nothing; then the .dynsym section header answers, and without section headers the distance from
    DT_SYMTAB to the next table the dynamic section points at (.dynstr follows .dynsym in every linker).
    """
    hash_address = table.first(c.DT_HASH)
    offset = None if hash_address is None else addresses.offset(hash_address)
    if offset is not None:
        nchain = image.unpack(layout.u32, offset + 4, "hash table")[0]
        if nchain * layout.sym.size > image.size:
            raise image.fail(f"corrupt: DT_HASH claims {nchain} symbols, more than the file holds")
        if nchain > MAX_DYNAMIC_SYMBOLS:
            raise image.budget.exceeded(f"more than {MAX_DYNAMIC_SYMBOLS:,} dynamic symbols (DT_HASH)")
        return nchain
    gnu_address = table.first(c.DT_GNU_HASH)
    offset = None if gnu_address is None else addresses.offset(gnu_address)
    count = None if offset is None else _gnu_hash_count(image, layout, offset)
    if count is not None:
        return count
    size = dynsym_section_size()  # asked only now: most files never need their section headers for this
    count = size // layout.sym.size if size is not None else _count_from_layout(layout, table)
    if count is not None and count > MAX_DYNAMIC_SYMBOLS:
        raise image.budget.exceeded(f"more than {MAX_DYNAMIC_SYMBOLS:,} dynamic symbols")
    return count


def _gnu_hash_count(image: Image, layout: Layout, offset: int) -> int | None:
    """One past the last symbol of the last non-empty chain; None when every bucket is empty."""
    nbuckets, symoffset, bloom_size = image.unpack(GNU_HASH_HEADER[layout.little_endian], offset, "GNU hash")
    if nbuckets > image.size // 4 or bloom_size > image.size // layout.word_size:
        raise image.fail(f"corrupt: GNU hash table claims {nbuckets} buckets and {bloom_size} bloom words")
    if max(nbuckets, bloom_size, symoffset) > MAX_DYNAMIC_SYMBOLS:
        raise image.budget.exceeded(f"a GNU hash table for more than {MAX_DYNAMIC_SYMBOLS:,} symbols")
    buckets_offset = offset + 16 + bloom_size * layout.word_size
    buckets = image.slice(buckets_offset, 4 * nbuckets, "GNU hash buckets")
    little_endian = layout.little_endian
    last = max(u32_array(buckets, little_endian), default=0)
    if last == 0:
        return None
    if last < symoffset:
        raise image.fail(f"corrupt: GNU hash bucket names symbol {last}, below its first hashed symbol")
    if last > MAX_DYNAMIC_SYMBOLS:
        raise image.budget.exceeded(f"more than {MAX_DYNAMIC_SYMBOLS:,} dynamic symbols (GNU hash)")
    # Walk the last chain to the word with the end bit. The file's end and the symbol cap bound the walk; the
    # low byte of each word is found with C-speed slicing, never a Python loop per word.
    start = buckets_offset + 4 * nbuckets + 4 * (last - symoffset)
    position = start
    end = min(image.size, start + 4 * (MAX_DYNAMIC_SYMBOLS - last + 1))
    low = 0 if little_endian else 3
    block = CHAIN_BLOCK
    while True:
        stop = min(position + block, end - (end - position) % 4)
        block = min(block * 16, CHAIN_BLOCK_MAX)
        if stop <= position:
            if end < image.size:
                raise image.budget.exceeded(f"a GNU hash chain past {MAX_DYNAMIC_SYMBOLS:,} symbols")
            raise image.fail("corrupt: a GNU hash chain has no end marker before the end of the file")
        found = image.data[position + low : stop : 4].translate(LOW_BIT).find(1)
        if found >= 0:
            return last + (position - start) // 4 + found + 1
        position = stop


def _count_from_layout(layout: Layout, table: DynamicTable) -> int | None:
    symtab = table.first(c.DT_SYMTAB)
    if symtab is None:
        return None
    above = [v for tag in TABLE_ADDRESS_TAGS if (v := table.first(tag)) is not None and v > symtab]
    return (min(above) - symtab) // layout.sym.size if above else None


def u32_array(raw: bytes, little_endian: bool) -> array.array[int]:
    values = array.array("I", raw)
    if little_endian != (sys.byteorder == "little"):
        values.byteswap()
    return values
