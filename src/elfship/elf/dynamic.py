"""PT_DYNAMIC: libraries, search paths, flags, symbol versions. Read through program headers only."""

from __future__ import annotations

from dataclasses import dataclass

from elfship.elf import constants as c
from elfship.elf.headers import AddressMap, Layout, Segment
from elfship.elf.image import Image

MAX_DYNAMIC_ENTRIES = 1 << 16
MAX_VERSION_ENTRIES = 1 << 12  # glibc's libc.so.6 defines ~50 versions; thousands means a loop or a lie


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
    image: Image, layout: Layout, table: DynamicTable, addresses: AddressMap
) -> int | None:
    """How many entries .dynsym has, from DT_HASH (nchain) or by walking DT_GNU_HASH's chains."""
    hash_address = table.first(c.DT_HASH)
    if hash_address is not None:
        offset = addresses.offset(hash_address)
        if offset is not None:
            return image.unpack(layout.u32, offset + 4, "hash table")[0]
    gnu_address = table.first(c.DT_GNU_HASH)
    if gnu_address is None:
        return None
    offset = addresses.offset(gnu_address)
    if offset is None:
        return None
    return _gnu_hash_count(image, layout, offset)


def _gnu_hash_count(image: Image, layout: Layout, offset: int) -> int:
    u32 = layout.u32
    nbuckets, symoffset, bloom_size = (
        image.unpack(u32, offset + 4 * i, "GNU hash header")[0] for i in range(3)
    )
    buckets_offset = offset + 16 + bloom_size * layout.word_size
    if nbuckets > image.size // 4:
        raise image.fail(f"corrupt: GNU hash table claims {nbuckets} buckets")
    buckets = [b[0] for b in image.iter_unpack(u32, buckets_offset, nbuckets, "GNU hash buckets")]
    last = max(buckets, default=0)
    if last < symoffset:
        return symoffset
    chains_offset = buckets_offset + 4 * nbuckets
    index = last
    while True:
        (value,) = image.unpack(u32, chains_offset + 4 * (index - symoffset), "GNU hash chain")
        if value & 1:
            return index + 1
        index += 1


def read_versioned_undefined_symbols(
    image: Image,
    layout: Layout,
    table: DynamicTable,
    addresses: AddressMap,
    needs: tuple[VersionNeedEntry, ...],
) -> dict[str, dict[str, tuple[str, ...]]]:
    """library -> version -> the undefined dynamic symbols bound to that version (sorted)."""
    by_index = {index: (need.library, version) for need in needs for index, version in need.versions}
    count = _undefined_symbol_limit(image, layout, table, addresses)
    symtab, versym = table.first(c.DT_SYMTAB), table.first(c.DT_VERSYM)
    if not by_index or count is None or symtab is None or versym is None:
        return {}
    symtab_offset, versym_offset = addresses.offset(symtab), addresses.offset(versym)
    if symtab_offset is None or versym_offset is None:
        raise image.fail("corrupt: DT_SYMTAB or DT_VERSYM is outside every loadable segment")
    versions = image.iter_unpack(layout.u16, versym_offset, count, "version symbols")
    symbols = image.iter_unpack(layout.sym, symtab_offset, count, "dynamic symbols")
    name_field, section_field = (0, 3) if layout.elf_class == 64 else (0, 5)
    found: dict[tuple[str, str], set[str]] = {}
    for (raw,), symbol in zip(versions, symbols, strict=True):
        need = by_index.get(raw & c.VERSYM_INDEX_MASK)
        if need is not None and symbol[section_field] == c.SHN_UNDEF:
            found.setdefault(need, set()).add(dynamic_string(image, table, symbol[name_field], "symbol name"))
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for (library, version), names in sorted(found.items()):
        result.setdefault(library, {})[version] = tuple(sorted(names))
    return result


def _undefined_symbol_limit(
    image: Image, layout: Layout, table: DynamicTable, addresses: AddressMap
) -> int | None:
    """How many leading .dynsym entries can be undefined.

    A GNU hash table covers only defined symbols, and they must come last: every undefined symbol sits
    below its `symoffset`. Walking only that prefix skips the thousands of exports of a large library.
    """
    gnu_address = table.first(c.DT_GNU_HASH)
    offset = None if gnu_address is None else addresses.offset(gnu_address)
    if offset is not None:
        return image.unpack(layout.u32, offset + 4, "GNU hash header")[0]
    return dynamic_symbol_count(image, layout, table, addresses)
