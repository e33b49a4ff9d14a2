"""The undefined dynamic symbols behind each required version: the culprits behind a too-new version.

The symbols are selected with byte-string operations that run in C (slices with a step, translate, integer
AND), so a library's thousands of exports cost a few passes over bytes, not a Python step each; Python
touches only the symbols that are kept.
"""

from __future__ import annotations

import array
import sys
from collections import defaultdict
from collections.abc import Iterable
from itertools import accumulate, compress, count, repeat
from operator import add

from elfship.elf import constants as c
from elfship.elf.budget import MAX_VERSIONED_SYMBOLS
from elfship.elf.dynamic import DynamicTable, VersionNeedEntry, u32_array
from elfship.elf.headers import AddressMap, Layout
from elfship.elf.image import Image
from elfship.elf.model import VersionSymbolRows

IS_ZERO = bytes([1] + [0] * 255)  # translate table: 1 for a zero byte, 0 for any other
DENSE_RATIO = 8  # with at least one match in this many symbols, the whole name column is cut out
PLAIN_OR_HIDDEN = bytes(value in (0, c.VERSYM_HIDDEN >> 8) for value in range(256))  # the high byte's table
MAX_REMEMBERED_MARKS = 1024


def read_version_symbol_rows(
    image: Image,
    layout: Layout,
    table: DynamicTable,
    addresses: AddressMap,
    needs: tuple[VersionNeedEntry, ...],
    count: int | None,
) -> VersionSymbolRows:
    """(library, version, the undefined dynamic symbols bound to it, sorted) for each version a symbol needs,
    ordered by library and version."""
    # Both the plain and the hidden form of each needed index: value -> (library, version).
    wanted: dict[int, tuple[str, str]] = {}
    plains: set[int] = set()
    for entry in needs:
        for index, version in zip(entry.indexes, entry.versions, strict=True):
            plain = index & c.VERSYM_INDEX_MASK
            wanted[plain] = wanted[plain | c.VERSYM_HIDDEN] = (entry.library, version)
            plains.add(plain)
    symtab, versym = table.first(c.DT_SYMTAB), table.first(c.DT_VERSYM)
    if not wanted or not count or symtab is None or versym is None:
        return ()
    symtab_offset, versym_offset = addresses.offset(symtab), addresses.offset(versym)
    if symtab_offset is None or versym_offset is None:
        raise image.fail("corrupt: DT_SYMTAB or DT_VERSYM is outside every loadable segment")
    image.check_range(symtab_offset, layout.sym.size * count, "dynamic symbols")
    versym_raw = image.slice(versym_offset, 2 * count, "version symbols")
    strtab = table.strtab
    if strtab is None:
        raise image.fail("corrupt: dynamic symbols given but no DT_STRTAB")
    versions = _u16_array(versym_raw, layout.little_endian)
    matches = _version_matches(versym_raw, versions, layout.little_endian, wanted, plains)
    if matches.count(1) > MAX_VERSIONED_SYMBOLS:
        raise image.budget.exceeded(f"more than {MAX_VERSIONED_SYMBOLS:,} version-bound symbols")
    by_value: defaultdict[int, set[int]] = defaultdict(set)  # int keys, no set built per symbol: 2.5x faster
    for value, name in _undefined(image, layout, symtab_offset, count, versions, matches):
        by_value[value].add(name)
    found: dict[tuple[str, str], set[int]] = {}
    for value, offsets in by_value.items():  # a version's plain and hidden values name one need
        need = wanted[value]
        found[need] = found[need] | offsets if need in found else offsets
    names = strtab.symbol_names(set().union(*found.values()), "symbol name")
    return tuple(
        [
            (library, version, tuple(sorted(map(names.__getitem__, offsets))))
            for (library, version), offsets in sorted(found.items())
        ]
    )


def _undefined(
    image: Image, layout: Layout, offset: int, count: int, versions: array.array[int], matches: bytes
) -> Iterable[tuple[int, int]]:
    """(version value, st_name) of each matched symbol that is undefined (st_shndx SHN_UNDEF); repeats are
    left to the caller's sets.

    A program's table is mostly matches: its st_shndx and name columns are cut out whole. A library's is
    mostly exports: only the few matches are unpacked, found by splitting the 0/1 string at its ones (C
    speed), so the pages of its thousands of exports are never read."""
    size, data = layout.sym.size, image.data
    if matches.count(1) * DENSE_RATIO >= count:
        end, shndx = offset + size * count, offset + layout.sym_shndx_offset  # 2 bytes, both 0: SHN_UNDEF
        undefined = _and(
            matches, data[shndx:end:size].translate(IS_ZERO), data[shndx + 1 : end : size].translate(IS_ZERO)
        )
        names = u32_array(image.slice(offset, size * count, "dynamic symbols"), layout.little_endian)
        return zip(compress(versions, undefined), compress(names[:: size // 4], undefined), strict=True)
    positions = _ones(matches)
    picked = map(
        layout.sym_name_shndx.unpack_from, repeat(data), map(offset.__add__, map(size.__mul__, positions))
    )
    return [(versions[n], name) for n, (name, shndx) in zip(positions, picked, strict=True) if shndx == 0]


def _ones(mask: bytes) -> list[int]:
    """The positions of the 1 bytes of a 0/1 string."""
    gaps = mask.split(b"\1")
    gaps.pop()  # what follows the last one
    # The k-th one (from 0) follows the first k + 1 gaps and k ones: all in C.
    return list(map(add, accumulate(map(len, gaps)), count()))


def _version_matches(
    raw: bytes,
    versions: array.array[int],
    little_endian: bool,
    wanted: dict[int, tuple[str, str]],
    plains: set[int],
) -> bytes:
    """One byte per symbol: 1 where its .gnu.version entry is wanted (plain or hidden), else 0.

    The needed indices of real files are a few numbers below 256: then the answer is the AND of two
    translated byte columns, the low byte one of them and the high byte 0 or 0x80 (hidden). Any other set
    takes a lookup per entry."""
    if max(plains) >= 256:
        return bytes(map(wanted.__contains__, versions))
    low, high = (raw[0::2], raw[1::2]) if little_endian else (raw[1::2], raw[0::2])
    return _and(low.translate(_low_marks(plains)), high.translate(PLAIN_OR_HIDDEN))


_LOW_MARKS: dict[frozenset[int], bytes] = {}  # most files of a system need one of a few sets of indices


def _low_marks(values: set[int]) -> bytes:
    """A translate table: 1 for each byte in values, 0 for the rest (remembered per set, bounded)."""
    key = frozenset(values)
    table = _LOW_MARKS.get(key)
    if table is None:
        if len(_LOW_MARKS) >= MAX_REMEMBERED_MARKS:
            _LOW_MARKS.clear()
        table = _LOW_MARKS[key] = bytes(value in values for value in range(256))
    return table


def _and(first: bytes, *others: bytes) -> bytes:
    """Bytewise AND of equal-length 0/1 byte strings, through one big integer each (C speed)."""
    total = int.from_bytes(first, "little")
    for other in others:
        total &= int.from_bytes(other, "little")
    return total.to_bytes(len(first), "little")


def _u16_array(raw: bytes, little_endian: bool) -> array.array[int]:
    values = array.array("H", raw)
    if little_endian != (sys.byteorder == "little"):
        values.byteswap()
    return values
