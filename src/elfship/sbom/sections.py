"""Bounded access to the sections of one ELF file: named section bytes and defined-symbol lookups.

Built on the ELF reader's Image and section header parser: every offset a (possibly hostile) file names is
checked against the file's size, and every read is capped.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable

from elfship.elf import constants as c
from elfship.elf.headers import AddressMap, Header, Section, read_header, read_sections, read_segments
from elfship.elf.image import Image

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

SHT_NOBITS = 8
MAX_SECTION_READ = 64 * 1024 * 1024  # no section elfship reads whole (.dep-v0, .comment, ...) is near this
MAX_SYMBOLS = 4_000_000  # a symbol table larger than this is not a real program's
# Strings scanned per file at most: a real 100 MB static program has a few MB of .rodata; a hostile or sparse
# file claiming gigabytes must not cost gigabytes of memory (mapped pages count as resident once touched).
MAX_STRING_SCAN = 64 * 1024 * 1024
# Where compilers put constant strings (version texts, banners, panic locations): scanning only these is
# several times faster than scanning the whole file, whose bulk is code and debug info.
STRING_SECTIONS = (".rodata", ".lrodata", ".data", ".tdata")


class SectionView:
    """The named sections of one open Image (none when the file has no section headers)."""

    def __init__(self, image: Image) -> None:
        self.image = image
        self.header: Header = read_header(image)
        self.sections: dict[str, Section] = {}
        self._by_index: list[Section] = []
        for name, section in read_sections(image, self.header) or ():
            self._by_index.append(section)
            self.sections.setdefault(name, section)

    def has(self, name: str) -> bool:
        return name in self.sections

    @functools.cached_property
    def head(self) -> bytes:
        """The file's first MAX_STRING_SCAN bytes: what is scanned of a file without section headers."""
        return self.image.copy_out(0, MAX_STRING_SCAN)

    def read(self, name: str, limit: int = MAX_SECTION_READ) -> bytes | None:
        """The bytes of a section, or None when absent, empty (NOBITS) or larger than limit."""
        section = self.sections.get(name)
        if section is None or section.sh_type == SHT_NOBITS or section.size > limit:
            return None
        if section.offset < 0 or section.offset + section.size > self.image.size:
            return None  # a section header pointing past the end: treat as absent, not as a crash
        return self.image.slice(section.offset, section.size, name)

    def string_data(self, also: tuple[str, ...] = ()) -> Any:
        """The bytes of the constant-data sections (and `also`) joined by NULs, or the whole file when it has
        no section headers (stripped with sstrip) or none of those sections. Section headers are not needed
        to run a program, so a file built to deceive can point them elsewhere: like every content scanner,
        this finds what a file does not hide on purpose."""
        size = self.image.size
        parts = [
            (section.offset, section.size)
            for name, section in self.sections.items()
            if (name.startswith(STRING_SECTIONS) or name in also)
            and section.sh_type != SHT_NOBITS
            and 0 <= section.offset <= section.offset + section.size <= size
        ]
        if not parts:
            return self.head
        budget, chosen = MAX_STRING_SCAN, [b""]
        for offset, length in sorted(parts):
            take = min(length, budget)
            chosen.append(self.image.copy_out(offset, take))
            budget -= take
            if budget == 0:
                break
        chosen.append(b"")
        return b"\0".join(chosen)

    def defined_symbols(self, wanted: Iterable[str]) -> frozenset[str]:
        """Which of these names the file *defines* (in .symtab or .dynsym); undefined references do not count.

        A dynamic program that calls SSL_new has an undefined SSL_new: that is not OpenSSL inside it.
        """
        return frozenset(self._defined(wanted))

    def symbol_strings(self, wanted: Iterable[str], limit: int = 64) -> dict[str, str]:
        """The NUL-terminated string each of these defined data symbols points at (e.g. sqlite3_version),
        read through the PT_LOAD segments; names whose address maps to no file bytes are left out."""
        addresses = AddressMap(read_segments(self.image, self.header))
        found: dict[str, str] = {}
        for name, value in self._defined(wanted).items():
            offset = addresses.offset(value)
            if offset is None:
                continue
            raw = bytes(self.image.data[offset : min(offset + limit, self.image.size)])
            text, nul, _ = raw.partition(b"\0")
            if nul:
                found[name] = text.decode("ascii", "replace")
        return found

    def _defined(self, wanted: Iterable[str]) -> dict[str, int]:
        names = [w.encode() for w in wanted]
        found: dict[str, int] = {}
        for table, strings in ((".symtab", ".strtab"), (".dynsym", ".dynstr")):
            for name, value in self._defined_in(table, strings, names).items():
                found.setdefault(name, value)
        return found

    def _defined_in(self, table_name: str, strings_name: str, names: list[bytes]) -> dict[str, int]:
        table = self.sections.get(table_name)
        strtab = self.read(strings_name)
        if table is None or strtab is None or table.sh_type == SHT_NOBITS:
            return {}
        offsets: dict[int, str] = {}
        for name in names:  # where each wanted name sits in the string table (as a whole string)
            start = strtab.find(b"\0" + name + b"\0")
            while start >= 0:
                offsets[start + 1] = name.decode()
                start = strtab.find(b"\0" + name + b"\0", start + 1)
        if not offsets:
            return {}
        return self._scan_symbols(table, offsets)

    def _scan_symbols(self, table: Section, offsets: dict[int, str]) -> dict[str, int]:
        """Find the entries whose st_name is one of offsets by searching for the packed value (st_name is
        every entry's first field), instead of unpacking every symbol: a Rust binary has 100k of them."""
        layout = self.header.layout
        is64 = layout.elf_class == 64
        order = "<" if layout.little_endian else ">"
        size, shndx_at = (24, 6) if is64 else (16, 14)
        value_format, value_at = (order + "Q", 8) if is64 else (order + "I", 4)
        if table.offset < 0 or table.size <= 0 or table.offset + table.size > self.image.size:
            return {}
        data = self.image.data
        end = table.offset + min(table.size, MAX_SYMBOLS * size)
        found: dict[str, int] = {}
        for offset, name in offsets.items():
            needle = struct.pack(order + "I", offset)
            at = data.find(needle, table.offset, end)
            while at >= 0:
                if (at - table.offset) % size == 0 and at + size <= end:
                    (shndx,) = struct.unpack_from(order + "H", data, at + shndx_at)
                    if shndx != c.SHN_UNDEF:
                        (found[name],) = struct.unpack_from(value_format, data, at + value_at)
                        break
                at = data.find(needle, at + 1, end)
        return found
