"""The ELF header, program headers and section headers: the frame every other read hangs on."""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter

from elfship.elf.budget import MAX_SECTION_NAME_BYTES, MAX_SECTIONS, SECTION_NAMES
from elfship.elf.constants import ELF_MAGIC, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, PT_LOAD
from elfship.elf.image import Image
from elfship.record import NamedTuple, record

PN_XNUM = 0xFFFF
SHN_XINDEX = 0xFFFF
MAX_PROGRAM_HEADERS = 65536  # far above any real file; bounds work on hostile counts


@record
class Layout:
    """Struct formats for one ELF class and byte order."""

    elf_class: int
    little_endian: bool
    ehdr: struct.Struct
    phdr: struct.Struct
    phdr_pick: struct.Struct | None  # the Segment fields of a program header, in Segment's order (ELF64)
    shdr: struct.Struct
    shdr_pick: struct.Struct  # the Section fields of a section header, in Section's order
    dyn: struct.Struct
    sym: struct.Struct
    sym_shndx_offset: int  # where a symbol's st_shndx sits (st_name leads every symbol)
    sym_name_shndx: struct.Struct  # a symbol's st_name and st_shndx, the two its version matches need
    u16: struct.Struct
    u32: struct.Struct
    word: struct.Struct  # native address size
    verneed: struct.Struct
    vernaux: struct.Struct
    verdef: struct.Struct
    verdaux: struct.Struct
    note: struct.Struct
    word_size: int  # bytes of an address (elf_class // 8)


def _layout(elf_class: int, little_endian: bool) -> Layout:
    e = "<" if little_endian else ">"
    if elf_class == 64:
        return Layout(
            64,
            little_endian,
            ehdr=struct.Struct(e + "16sHHIQQQIHHHHHH"),
            phdr=struct.Struct(e + "IIQQQQQQ"),  # type, flags, offset, vaddr, paddr, filesz, memsz, align
            phdr_pick=struct.Struct(e + "IIQQ8xQQQ"),  # skips paddr
            shdr=struct.Struct(e + "IIQQQQIIQQ"),
            shdr_pick=struct.Struct(e + "II16xQQI4xQQ"),  # skips flags, addr, info
            dyn=struct.Struct(e + "qQ"),
            sym=struct.Struct(e + "IBBHQQ"),  # name, info, other, shndx, value, size
            sym_shndx_offset=6,  # name, info, other, then shndx
            sym_name_shndx=struct.Struct(e + "I2xH"),
            u16=struct.Struct(e + "H"),
            u32=struct.Struct(e + "I"),
            word=struct.Struct(e + "Q"),
            verneed=struct.Struct(e + "HHIII"),
            vernaux=struct.Struct(e + "IHHII"),
            verdef=struct.Struct(e + "HHHHIII"),
            verdaux=struct.Struct(e + "II"),
            note=struct.Struct(e + "III"),
            word_size=8,
        )
    return Layout(
        32,
        little_endian,
        ehdr=struct.Struct(e + "16sHHIIIIIHHHHHH"),
        phdr=struct.Struct(e + "IIIIIIII"),  # type, offset, vaddr, paddr, filesz, memsz, flags, align
        phdr_pick=None,  # flags come 7th: no struct puts them 2nd
        shdr=struct.Struct(e + "IIIIIIIIII"),
        shdr_pick=struct.Struct(e + "II8xIII4xII"),
        dyn=struct.Struct(e + "iI"),
        sym=struct.Struct(e + "IIIBBH"),  # name, value, size, info, other, shndx
        sym_shndx_offset=14,  # name, value, size, info, other, then shndx
        sym_name_shndx=struct.Struct(e + "I10xH"),
        u16=struct.Struct(e + "H"),
        u32=struct.Struct(e + "I"),
        word=struct.Struct(e + "I"),
        verneed=struct.Struct(e + "HHIII"),
        vernaux=struct.Struct(e + "IHHII"),
        verdef=struct.Struct(e + "HHHHIII"),
        verdaux=struct.Struct(e + "II"),
        note=struct.Struct(e + "III"),
        word_size=4,
    )


LAYOUTS = {(c, le): _layout(c, le) for c in (32, 64) for le in (True, False)}


# NamedTuples, not dataclasses: thousands are made per second on the hot path and they are cheaper to build.
class Segment(NamedTuple):  # ELF64's order, so Layout.phdr_pick unpacks one in C
    p_type: int
    flags: int  # PF_R / PF_W / PF_X
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


class Section(NamedTuple):
    name_offset: int
    sh_type: int
    offset: int
    size: int
    link: int
    addralign: int = 0
    entsize: int = 0


class Header(NamedTuple):  # a NamedTuple like Segment: one per parse, on the hot path
    layout: Layout
    e_type: int
    e_machine: int
    phoff: int
    shoff: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int


def read_header(image: Image) -> Header:
    if image.size == 0:
        raise image.fail("empty file, not ELF")
    if bytes(image.data[:4]) != ELF_MAGIC:
        raise image.fail("not an ELF file (no \\x7fELF magic)")
    if image.size < 16:
        raise image.fail(f"truncated ELF identification ({image.size} bytes)")
    ei_class, ei_data = image.data[4], image.data[5]
    if ei_class not in (ELFCLASS32, ELFCLASS64):
        raise image.fail(f"corrupt: unknown ELF class {ei_class}")
    if ei_data not in (ELFDATA2LSB, ELFDATA2MSB):
        raise image.fail(f"corrupt: unknown ELF byte order {ei_data}")
    layout = LAYOUTS[(64 if ei_class == ELFCLASS64 else 32, ei_data == ELFDATA2LSB)]
    fields = image.unpack(layout.ehdr, 0, "ELF header")
    _, e_type, e_machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx = fields
    header = Header(layout, e_type, e_machine, phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx)
    return _apply_extended_numbering(image, header)


def _apply_extended_numbering(image: Image, header: Header) -> Header:
    """Counts too large for the header live in section 0 (PN_XNUM / SHN_XINDEX)."""
    needs_section0 = header.phnum == PN_XNUM or header.shstrndx == SHN_XINDEX
    needs_section0 = needs_section0 or (header.shnum == 0 and header.shoff != 0)
    if not needs_section0 or header.shoff == 0:
        return header
    layout = header.layout
    sh = image.unpack(layout.shdr, header.shoff, "section header 0")
    size, link, info = sh[5], sh[6], sh[7]
    return Header(
        layout,
        header.e_type,
        header.e_machine,
        header.phoff,
        header.shoff,
        header.phentsize,
        info if header.phnum == PN_XNUM else header.phnum,
        header.shentsize,
        size if header.shnum == 0 else header.shnum,
        link if header.shstrndx == SHN_XINDEX else header.shstrndx,
    )


def read_segments(image: Image, header: Header) -> tuple[Segment, ...]:
    layout = header.layout
    if header.phoff == 0 or header.phnum == 0:
        return ()
    if header.phentsize < layout.phdr.size:
        raise image.fail(f"corrupt: program header entry size {header.phentsize} is too small")
    if header.phnum > MAX_PROGRAM_HEADERS:
        raise image.fail(f"corrupt: {header.phnum} program headers")
    image.check_range(header.phoff, header.phentsize * header.phnum, "program header table")
    phdr, step, start, pick = layout.phdr, header.phentsize, header.phoff, layout.phdr_pick
    if pick is not None and step == pick.size:  # ELF64 as linkers write it: one C pass, no Python per entry
        table = image.slice(start, step * header.phnum, "program header table")
        return tuple(map(tuple.__new__, repeat(Segment), pick.iter_unpack(table)))
    raws = (phdr.unpack_from(image.data, start + index * step) for index in range(header.phnum))
    if layout.elf_class == 64:  # type, flags, offset, vaddr, paddr, filesz, memsz, align
        return tuple(Segment(r[0], r[1], r[2], r[3], r[5], r[6], r[7]) for r in raws)
    return tuple(Segment(r[0], r[6], r[1], r[2], r[4], r[5], r[7]) for r in raws)  # flags come 7th in ELF32


def read_sections(image: Image, header: Header) -> tuple[tuple[str, Section], ...] | None:
    """Named section headers, or None when the file has none (stripped with sstrip, or never had them)."""
    table = read_section_table(image, header)
    return None if table is None else tuple(zip(table.names, table.headers(), strict=True))


class SectionTable(NamedTuple):
    """A file's section headers as the reader uses them: every name and type at once (each parse wants
    them), the full headers parsed only when asked (objects without PT_NOTE, files without hash tables)."""

    names: tuple[str, ...]
    types: Sequence[int]  # each section's sh_type, in order
    raw: bytes  # the section header table
    layout: Layout
    entry_size: int

    def headers(self) -> list[Section]:
        pick = self.layout.shdr_pick
        if self.entry_size == pick.size:  # as linkers write it: one C pass, no Python per entry
            return list(map(tuple.__new__, repeat(Section), pick.iter_unpack(self.raw)))
        count = len(self.raw) // self.entry_size
        return [Section._make(pick.unpack_from(self.raw, i * self.entry_size)) for i in range(count)]


def read_section_table(image: Image, header: Header) -> SectionTable | None:
    """The section header table, or None when the file has none."""
    layout = header.layout
    if header.shoff == 0 or header.shnum == 0:
        return None
    if header.shentsize < layout.shdr.size:
        raise image.fail(f"corrupt: section header entry size {header.shentsize} is too small")
    if header.shnum > MAX_SECTIONS:
        raise image.budget.exceeded(f"more than {MAX_SECTIONS:,} section headers")
    raw = image.slice(header.shoff, header.shentsize * header.shnum, "section header table")
    offsets, types = _name_and_type_columns(raw, layout, header.shentsize)
    names = b""
    if header.shstrndx < header.shnum:
        # sh_offset and sh_size of the names' section: fields 5 and 6 of the picked Section fields.
        strtab = layout.shdr_pick.unpack_from(raw, header.shstrndx * header.shentsize)
        offset, size = strtab[2], strtab[3]
        if offset >= 0 and offset + size <= image.size:
            names = bytes(image.data[offset : offset + size])
    return SectionTable(_section_names(image, names, offsets), types, raw, layout, header.shentsize)


def _name_and_type_columns(raw: bytes, layout: Layout, entry_size: int) -> tuple[array[int], array[int]]:
    """sh_name and sh_type of every section, the first two 32-bit words of each entry in both classes, cut
    out as columns in C (no tuple per section)."""
    if entry_size % 4:  # never written by a linker; read entry by entry
        pick = layout.shdr_pick
        fields = [pick.unpack_from(raw, i * entry_size) for i in range(len(raw) // entry_size)]
        return array("I", map(itemgetter(0), fields)), array("I", map(itemgetter(1), fields))
    words = array("I", raw)
    if layout.little_endian != (sys.byteorder == "little"):
        words.byteswap()
    step = entry_size // 4
    return words[0::step], words[1::step]


# Section names by (name table, offsets): most files of a system share a few hundred such pairs (1,611 ELF
# files of a Debian machine have 158), so each is cut once per process. Small tables only; bounded.
_NAMES_SEEN: dict[tuple[bytes, bytes], tuple[str, ...]] = {}
MAX_REMEMBERED_TABLE = 4096  # bytes of a name table worth remembering
MAX_REMEMBERED = 1024


def _section_names(image: Image, names: bytes, offsets: array[int]) -> tuple[str, ...]:
    """Each section's name; a bad offset reads as "" so it cannot hide the rest of the file's facts."""
    key = (names, offsets.tobytes())
    found = _NAMES_SEEN.get(key)
    if found is not None:
        return found
    found = _cut_section_names(image, names, offsets.tolist())
    if len(names) <= MAX_REMEMBERED_TABLE and len(offsets) * len(names) <= MAX_SECTION_NAME_BYTES:
        if len(_NAMES_SEEN) >= MAX_REMEMBERED:
            _NAMES_SEEN.clear()
        _NAMES_SEEN[key] = found  # only names that were free of budget: a hit charges nothing either
    return found


def _cut_section_names(image: Image, names: bytes, offsets: list[int]) -> tuple[str, ...]:
    # The usual case: no name can be longer than the table, so all of them together stay in budget.
    if names.isascii() and len(names) * len(offsets) <= MAX_SECTION_NAME_BYTES:
        text = names.decode("ascii")  # decode once, then cut str slices
        ends = list(map(text.find, repeat("\0"), offsets))
        if -1 not in ends:  # every offset inside the table: one C pass (map/slice), no Python per section
            return tuple(map(text.__getitem__, map(slice, offsets, ends)))
        return tuple(text[o:stop] if (stop := text.find("\0", o)) >= 0 else "" for o in offsets)
    return tuple(_budgeted_names(image, names, offsets))


def _budgeted_names(image: Image, names: bytes, offsets: list[int]) -> list[str]:
    """Hostile tables (thousands of sections named by one long string): each offset decoded once, paid for."""
    cache: dict[int, str] = {}
    result = []
    for offset in offsets:
        name = cache.get(offset)
        if name is None:
            left = image.budget.left(SECTION_NAMES)
            stop = names.find(b"\0", offset, offset + left + 1)
            if stop < 0 and 0 <= offset < len(names) and offset + left + 1 < len(names):
                raise image.budget.out_of_strings(SECTION_NAMES)
            name = cache[offset] = names[offset:stop].decode("utf-8", "surrogateescape") if stop >= 0 else ""
        image.budget.spend(SECTION_NAMES, len(name))
        result.append(name)
    return result


class AddressMap:
    """Maps virtual addresses named in the dynamic section to file offsets through the PT_LOAD segments."""

    def __init__(self, segments: tuple[Segment, ...]) -> None:
        self._loads = [s for s in segments if s.p_type == PT_LOAD]

    def offset(self, vaddr: int) -> int | None:
        for seg in self._loads:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return seg.offset + (vaddr - seg.vaddr)
        return None
