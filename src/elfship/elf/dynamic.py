"""PT_DYNAMIC: libraries, search paths, flags, symbol versions. Read through program headers only."""

from __future__ import annotations

import array
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass

from elfship.elf import constants as c
from elfship.elf.headers import AddressMap, Layout, Segment
from elfship.elf.image import Image

MAX_DYNAMIC_ENTRIES = 1 << 16
MAX_VERSION_ENTRIES = 1 << 12  # glibc's libc.so.6 defines ~50 versions; thousands means a loop or a lie
CHAIN_BLOCK = 256  # GNU hash chain words read per step
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


@dataclass(frozen=True)
class DynamicTable:
    """The entries of PT_DYNAMIC plus a copy of the string table they point into."""

    entries: tuple[tuple[int, int], ...]
    first_values: dict[int, int]
    strtab: bytes | None

    def values(self, tag: int) -> list[int]:
        return [value for t, value in self.entries if t == tag]

    def first(self, tag: int) -> int | None:
        return self.first_values.get(tag)


def read_dynamic(image: Image, layout: Layout, segment: Segment, addresses: AddressMap) -> DynamicTable:
    entry_size = layout.dyn.size
    count = min(
        segment.filesz // entry_size, MAX_DYNAMIC_ENTRIES, max(image.size - segment.offset, 0) // entry_size
    )
    entries = []
    first: dict[int, int] = {}
    for tag, value in image.iter_unpack(layout.dyn, segment.offset, count, "dynamic section"):
        if tag == c.DT_NULL:
            break
        entries.append((tag, value))
        first.setdefault(tag, value)
    strtab = first.get(c.DT_STRTAB)
    if strtab is None:
        return DynamicTable(tuple(entries), first, None)
    offset = addresses.offset(strtab)
    if offset is None:
        raise image.fail(f"corrupt: DT_STRTAB address {strtab:#x} is outside every loadable segment")
    strsz = first.get(c.DT_STRSZ) or (image.size - offset)
    return DynamicTable(
        tuple(entries), first, image.slice(offset, min(strsz, image.size - offset), "DT_STRTAB")
    )


def dynamic_string(image: Image, table: DynamicTable, string_offset: int, what: str) -> str:
    strtab = table.strtab
    if strtab is None:
        raise image.fail(f"corrupt: {what} given but no DT_STRTAB")
    stop = strtab.find(b"\0", string_offset)
    if string_offset < 0 or stop < 0:
        raise image.fail(f"corrupt: {what} string offset {string_offset:#x} is outside the string table")
    return strtab[string_offset:stop].decode("utf-8", "surrogateescape")


def split_path_list(value: str) -> tuple[str, ...]:
    # ld.so splits on ':' (and ';' is not special); empty elements mean the current directory in glibc,
    # but we keep them out of reports: they are almost always a build mistake, flagged elsewhere.
    return tuple(part for part in value.split(":") if part)


def flag_names(table: DynamicTable) -> tuple[str, ...]:
    names: list[str] = []
    for tag, table_names in ((c.DT_FLAGS, c.DT_FLAGS_NAMES), (c.DT_FLAGS_1, c.DT_FLAGS_1_NAMES)):
        value = table.first(tag) or 0
        names.extend(name for bit, name in table_names.items() if value & bit and name not in names)
    return tuple(names)


@dataclass(frozen=True)
class VersionNeedEntry:
    library: str
    # (vna_other index, version name) for each required version
    versions: tuple[tuple[int, str], ...]


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
    needs: list[VersionNeedEntry] = []
    for _ in range(min(declared, MAX_VERSION_ENTRIES)):
        _, count, file_name, aux, next_offset = image.unpack(layout.verneed, offset, "version need")
        library = dynamic_string(image, table, file_name, "version need file")
        needs.append(VersionNeedEntry(library, _read_vernaux(image, layout, table, offset + aux, count)))
        if next_offset == 0:
            break
        offset += next_offset
    return tuple(needs)


def _read_vernaux(
    image: Image, layout: Layout, table: DynamicTable, offset: int, count: int
) -> tuple[tuple[int, str], ...]:
    versions = []
    for _ in range(min(count, MAX_VERSION_ENTRIES)):
        _, _, other, name, next_offset = image.unpack(layout.vernaux, offset, "version need entry")
        versions.append((other, dynamic_string(image, table, name, "version need name")))
        if next_offset == 0:
            break
        offset += next_offset
    return tuple(versions)


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
        return nchain
    gnu_address = table.first(c.DT_GNU_HASH)
    offset = None if gnu_address is None else addresses.offset(gnu_address)
    count = None if offset is None else _gnu_hash_count(image, layout, offset)
    if count is not None:
        return count
    size = dynsym_section_size()  # asked only now: most files never need their section headers for this
    if size is not None:
        return size // layout.sym.size
    return _count_from_layout(layout, table)


def _gnu_hash_count(image: Image, layout: Layout, offset: int) -> int | None:
    """One past the last symbol of the last non-empty chain; None when every bucket is empty."""
    nbuckets, symoffset, bloom_size = image.unpack(GNU_HASH_HEADER[layout.little_endian], offset, "GNU hash")
    if nbuckets > image.size // 4 or bloom_size > image.size // layout.word_size:
        raise image.fail(f"corrupt: GNU hash table claims {nbuckets} buckets and {bloom_size} bloom words")
    buckets_offset = offset + 16 + bloom_size * layout.word_size
    buckets = image.slice(buckets_offset, 4 * nbuckets, "GNU hash buckets")
    little_endian = layout.little_endian
    last = max(_u32_array(buckets, little_endian), default=0)
    if last == 0:
        return None
    if last < symoffset:
        raise image.fail(f"corrupt: GNU hash bucket names symbol {last}, below its first hashed symbol")
    # Walk the last chain to the entry with the end bit, a block at a time; the file's end bounds the walk.
    position = buckets_offset + 4 * nbuckets + 4 * (last - symoffset)
    index = last
    while True:
        words = min(CHAIN_BLOCK, (image.size - position) // 4)
        if words <= 0:
            raise image.fail("corrupt: a GNU hash chain has no end marker before the end of the file")
        for value in _u32_array(image.data[position : position + 4 * words], little_endian):
            if value & 1:
                return index + 1
            index += 1
        position += 4 * words


def _count_from_layout(layout: Layout, table: DynamicTable) -> int | None:
    symtab = table.first(c.DT_SYMTAB)
    if symtab is None:
        return None
    above = [v for tag in TABLE_ADDRESS_TAGS if (v := table.first(tag)) is not None and v > symtab]
    return (min(above) - symtab) // layout.sym.size if above else None


def _u32_array(raw: bytes, little_endian: bool) -> array.array[int]:
    values = array.array("I", raw)
    if little_endian != (sys.byteorder == "little"):
        values.byteswap()
    return values


def _with_hidden(index: int) -> tuple[int, int]:
    return index & c.VERSYM_INDEX_MASK, (index & c.VERSYM_INDEX_MASK) | c.VERSYM_HIDDEN


def _u16_array(raw: bytes, little_endian: bool) -> array.array[int]:
    values = array.array("H", raw)
    if little_endian != (sys.byteorder == "little"):
        values.byteswap()
    return values


def read_versioned_undefined_symbols(
    image: Image,
    layout: Layout,
    table: DynamicTable,
    addresses: AddressMap,
    needs: tuple[VersionNeedEntry, ...],
    count: int | None,
) -> dict[str, dict[str, tuple[str, ...]]]:
    """library -> version -> the undefined dynamic symbols bound to that version (sorted).

    Only the symbols whose .gnu.version entry names a required version are unpacked: the thousands of
    exports of a large library cost one pass over a 16-bit array.
    """
    by_index = {index: (need.library, version) for need in needs for index, version in need.versions}
    symtab, versym = table.first(c.DT_SYMTAB), table.first(c.DT_VERSYM)
    if not by_index or not count or symtab is None or versym is None:
        return {}
    symtab_offset, versym_offset = addresses.offset(symtab), addresses.offset(versym)
    if symtab_offset is None or versym_offset is None:
        raise image.fail("corrupt: DT_SYMTAB or DT_VERSYM is outside every loadable segment")
    size = layout.sym.size
    image.check_range(symtab_offset, size * count, "dynamic symbols")
    versym_raw = image.slice(versym_offset, 2 * count, "version symbols")
    strtab = table.strtab
    if strtab is None:
        raise image.fail("corrupt: dynamic symbols given but no DT_STRTAB")
    wanted = {value: need for index, need in by_index.items() for value in _with_hidden(index)}
    versions = _u16_array(versym_raw, layout.little_endian)
    # Comprehensions, not loops: ~50 ns an entry over the whole array, then only the hits are unpacked.
    hits = [n for n, value in enumerate(versions) if value in wanted]
    unpack, data = layout.sym_name_shndx.unpack_from, image.data
    entries = [unpack(data, symtab_offset + n * size) for n in hits]
    found: dict[tuple[str, str], set[int]] = {}
    for number, (name, section) in zip(hits, entries, strict=True):
        if section == c.SHN_UNDEF:
            found.setdefault(wanted[versions[number]], set()).add(name)
    names = _symbol_names(image, strtab, {o for offsets in found.values() for o in offsets})
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for (library, version), offsets in sorted(found.items()):
        result.setdefault(library, {})[version] = tuple(sorted(names[o] for o in offsets))
    return result


def _symbol_names(image: Image, strtab: bytes, offsets: set[int]) -> dict[int, str]:
    """Symbol names by string table offset; an ASCII table (nearly all) is decoded once, not per name."""
    if not strtab.isascii():
        return {o: _symbol_name(image, strtab, o) for o in offsets}
    text = strtab.decode("ascii")
    find = text.find
    names = {o: text[o:stop] for o in offsets if (stop := find("\0", o)) >= 0}
    if len(names) != len(offsets):
        bad = min(offsets - names.keys())
        raise image.fail(f"corrupt: symbol name offset {bad:#x} is outside the string table")
    return names


def _symbol_name(image: Image, strtab: bytes, offset: int) -> str:
    stop = strtab.find(b"\0", offset)
    if stop < 0:
        raise image.fail(f"corrupt: symbol name offset {offset:#x} is outside the string table")
    return strtab[offset:stop].decode("utf-8", "surrogateescape")
