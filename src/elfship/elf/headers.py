"""The ELF header, program headers and section headers: the frame every other read hangs on."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from elfship.elf.constants import ELF_MAGIC, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, PT_LOAD
from elfship.elf.image import Image

PN_XNUM = 0xFFFF
SHN_XINDEX = 0xFFFF
MAX_PROGRAM_HEADERS = 65536  # far above any real file; bounds work on hostile counts


@dataclass(frozen=True)
class Layout:
    """Struct formats for one ELF class and byte order."""

    elf_class: int
    little_endian: bool
    ehdr: struct.Struct
    phdr: struct.Struct
    shdr: struct.Struct
    dyn: struct.Struct
    sym: struct.Struct
    u16: struct.Struct
    u32: struct.Struct
    word: struct.Struct  # native address size
    verneed: struct.Struct
    vernaux: struct.Struct
    verdef: struct.Struct
    verdaux: struct.Struct
    note: struct.Struct

    @property
    def word_size(self) -> int:
        return self.elf_class // 8


def _layout(elf_class: int, little_endian: bool) -> Layout:
    e = "<" if little_endian else ">"
    if elf_class == 64:
        return Layout(
            64,
            little_endian,
            ehdr=struct.Struct(e + "16sHHIQQQIHHHHHH"),
            phdr=struct.Struct(e + "IIQQQQQQ"),  # type, flags, offset, vaddr, paddr, filesz, memsz, align
            shdr=struct.Struct(e + "IIQQQQIIQQ"),
            dyn=struct.Struct(e + "qQ"),
            sym=struct.Struct(e + "IBBHQQ"),  # name, info, other, shndx, value, size
            u16=struct.Struct(e + "H"),
            u32=struct.Struct(e + "I"),
            word=struct.Struct(e + "Q"),
            verneed=struct.Struct(e + "HHIII"),
            vernaux=struct.Struct(e + "IHHII"),
            verdef=struct.Struct(e + "HHHHIII"),
            verdaux=struct.Struct(e + "II"),
            note=struct.Struct(e + "III"),
        )
    return Layout(
        32,
        little_endian,
        ehdr=struct.Struct(e + "16sHHIIIIIHHHHHH"),
        phdr=struct.Struct(e + "IIIIIIII"),  # type, offset, vaddr, paddr, filesz, memsz, flags, align
        shdr=struct.Struct(e + "IIIIIIIIII"),
        dyn=struct.Struct(e + "iI"),
        sym=struct.Struct(e + "IIIBBH"),  # name, value, size, info, other, shndx
        u16=struct.Struct(e + "H"),
        u32=struct.Struct(e + "I"),
        word=struct.Struct(e + "I"),
        verneed=struct.Struct(e + "HHIII"),
        vernaux=struct.Struct(e + "IHHII"),
        verdef=struct.Struct(e + "HHHHIII"),
        verdaux=struct.Struct(e + "II"),
        note=struct.Struct(e + "III"),
    )


LAYOUTS = {(c, le): _layout(c, le) for c in (32, 64) for le in (True, False)}


@dataclass(frozen=True)
class Segment:
    p_type: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


@dataclass(frozen=True)
class Section:
    name_offset: int
    sh_type: int
    offset: int
    size: int
    link: int


@dataclass(frozen=True)
class Header:
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
    segments = []
    for index in range(header.phnum):
        raw = layout.phdr.unpack_from(image.data, header.phoff + index * header.phentsize)
        if layout.elf_class == 64:
            p_type, _, offset, vaddr, _, filesz, memsz, align = raw
        else:
            p_type, offset, vaddr, _, filesz, memsz, _, align = raw
        segments.append(Segment(p_type, offset, vaddr, filesz, memsz, align))
    return tuple(segments)


def read_sections(image: Image, header: Header) -> tuple[tuple[str, Section], ...] | None:
    """Named section headers, or None when the file has none (stripped with sstrip, or never had them)."""
    layout = header.layout
    if header.shoff == 0 or header.shnum == 0:
        return None
    if header.shentsize < layout.shdr.size:
        raise image.fail(f"corrupt: section header entry size {header.shentsize} is too small")
    image.check_range(header.shoff, header.shentsize * header.shnum, "section header table")
    table = image.slice(header.shoff, header.shentsize * header.shnum, "section header table")
    if header.shentsize == layout.shdr.size:
        raws = list(layout.shdr.iter_unpack(table))
    else:
        raws = [layout.shdr.unpack_from(table, i * header.shentsize) for i in range(header.shnum)]
    sections = [Section(r[0], r[1], r[4], r[5], r[6]) for r in raws]
    names = b""
    if header.shstrndx < len(sections):
        strtab = sections[header.shstrndx]
        if strtab.offset >= 0 and strtab.offset + strtab.size <= image.size:
            names = bytes(image.data[strtab.offset : strtab.offset + strtab.size])
    return tuple((_section_name(names, s.name_offset), s) for s in sections)


def _section_name(names: bytes, offset: int) -> str:
    # A bad name must not hide the rest of the file's facts: it reads as "".
    stop = names.find(b"\0", offset)
    return names[offset:stop].decode("utf-8", "surrogateescape") if stop >= 0 else ""


class AddressMap:
    """Maps virtual addresses named in the dynamic section to file offsets through the PT_LOAD segments."""

    def __init__(self, segments: tuple[Segment, ...]) -> None:
        self._loads = [s for s in segments if s.p_type == PT_LOAD]

    def offset(self, vaddr: int) -> int | None:
        for seg in self._loads:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return seg.offset + (vaddr - seg.vaddr)
        return None
