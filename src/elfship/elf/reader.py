"""read_elf: one parse of one file into an ElfInfo. Never executes anything; every read is bounded."""

from __future__ import annotations

import os
import re
import struct
from operator import itemgetter

from elfship.elf import constants as c
from elfship.elf.dynamic import (
    DynamicTable,
    dynamic_string,
    dynamic_symbol_count,
    flag_names,
    needed_names,
    read_dynamic,
    read_version_definitions,
    read_version_needs,
    split_path_list,
)
from elfship.elf.headers import (
    AddressMap,
    Header,
    Layout,
    SectionTable,
    Segment,
    read_header,
    read_section_table,
    read_segments,
)
from elfship.elf.image import Image
from elfship.elf.libc import classify_dynamic, classify_static, libc_info
from elfship.elf.model import (
    ElfInfo,
    Kind,
    LibcFamily,
    LibcInfo,
    VersionNeed,
    VersionSymbolRows,
    VersionSymbols,
    symbols_from_rows,
)
from elfship.elf.notes import NOTE_SEGMENT_TYPES, isa_level_name, read_notes
from elfship.elf.symbols import read_version_symbol_rows
from elfship.errors import ElfError
from elfship.record import NamedTuple

PathLike = str | os.PathLike[str]
PATH_MAX = 4096
DEBUG_INFO_SECTIONS = frozenset({".debug_info", ".zdebug_info"})
GLIBC_RELEASE_NODE = re.compile("GLIBC_2")  # a version glibc itself defines (libc.so.6, ld.so, libm, ...)


def read_elf(path: PathLike, *, with_symbols: bool = False) -> ElfInfo:
    """Read every fact elfship needs from one ELF file. Raises ElfError with a one-line reason.

    with_symbols=True also fills ElfInfo.version_symbols (the undefined symbols behind each required
    version) in the same parse, instead of a second read_version_symbols() call.
    """
    name = os.fspath(path)
    try:
        return _read(name, with_symbols)
    except ElfError as exc:
        # Raised again from here, the error no longer holds the parse's frames: callers cache errors
        # (a scan keeps one per bad file), and those frames hold the file's tables, megabytes for a bomb.
        raise exc.with_traceback(None) from None


def _read(name: str, with_symbols: bool) -> ElfInfo:
    with Image(name) as image:
        try:
            return _parse(image, with_symbols)
        except (ValueError, OverflowError, IndexError, struct.error) as exc:  # a structure no check foresaw
            raise ElfError(name, f"corrupt ELF structure ({exc})") from None


def read_version_symbols(path: PathLike) -> VersionSymbols:
    """library -> version -> the undefined symbols that need it: the culprits behind a too-new version."""
    name = os.fspath(path)
    try:
        return _read_version_symbols(name)
    except ElfError as exc:
        raise exc.with_traceback(None) from None  # as in read_elf: keep no parse frames alive


def _read_version_symbols(name: str) -> VersionSymbols:
    with Image(name) as image:
        try:
            header = read_header(image)
            segments = read_segments(image, header)
            addresses = AddressMap(segments)
            table = _dynamic_table(image, header, segments, addresses)
            if table is None:
                return {}
            needs = read_version_needs(image, header.layout, table, addresses)
            if not needs:
                return {}
            count = dynamic_symbol_count(
                image,
                header.layout,
                table,
                addresses,
                lambda: _dynsym_size(read_section_table(image, header)),
            )
            rows = read_version_symbol_rows(image, header.layout, table, addresses, needs, count)
            return symbols_from_rows(rows)
        except (ValueError, OverflowError, IndexError, struct.error) as exc:
            raise ElfError(name, f"corrupt ELF structure ({exc})") from None


def _dynsym_size(sections: SectionTable | None) -> int | None:
    if sections is None or c.SHT_DYNSYM not in sections.types:
        return None
    return next((s.size for s in sections.headers() if s.sh_type == c.SHT_DYNSYM), None)


def _dynamic_table(
    image: Image, header: Header, segments: tuple[Segment, ...], addresses: AddressMap
) -> DynamicTable | None:
    dynamic = next((s for s in segments if s.p_type == c.PT_DYNAMIC), None)
    return None if dynamic is None else read_dynamic(image, header.layout, dynamic, addresses)


def _interpreter(image: Image, segments: tuple[Segment, ...]) -> str | None:
    seg = next((s for s in segments if s.p_type == c.PT_INTERP), None)
    if seg is None:
        return None
    image.check_range(seg.offset, seg.filesz, "PT_INTERP")
    # The kernel refuses a PT_INTERP longer than PATH_MAX: never copy more of a hostile one than that.
    raw = image.slice(seg.offset, min(seg.filesz, PATH_MAX), "PT_INTERP")
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _note_segments(segments: tuple[Segment, ...], sections: SectionTable | None) -> tuple[Segment, ...]:
    """PT_NOTE segments; for files without them (relocatable objects) the SHT_NOTE sections instead."""
    if not NOTE_SEGMENT_TYPES.isdisjoint(map(itemgetter(0), segments)) or sections is None:  # p_type
        return segments
    return tuple(
        Segment(c.PT_NOTE, 0, s.offset, 0, s.size, s.size, s.addralign)
        for s in sections.headers()
        if s.sh_type == c.SHT_NOTE
    )


def _read_only_data(segments: tuple[Segment, ...], sections: SectionTable | None) -> list[tuple[int, int]]:
    """Where a static libc's strings sit: .rodata when section headers name it (the loaded read-only data
    also holds .eh_frame, a megabyte in qemu's programs, which a backwards search would read first), else
    the file ranges of the loaded segments that are neither writable nor executable."""
    if sections is not None and ".rodata" in sections.names:
        rodata = sections.headers()[sections.names.index(".rodata")]
        return [(rodata.offset, rodata.offset + rodata.size)]
    return [
        (s.offset, s.offset + s.filesz)
        for s in segments
        if s.p_type == c.PT_LOAD and not s.flags & (c.PF_W | c.PF_X) and s.filesz > 0
    ]


class _DynamicFacts(NamedTuple):
    needed: tuple[str, ...] = ()
    soname: str | None = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    version_needs: tuple[VersionNeed, ...] = ()
    version_definitions: tuple[str, ...] = ()
    symbol_count: int | None = None
    version_symbols: VersionSymbolRows | None = None


_NO_DYNAMIC = _DynamicFacts()  # a file without PT_DYNAMIC (symbols not asked for: None)
_NO_DYNAMIC_WITH_SYMBOLS = _DynamicFacts(version_symbols=())  # symbols asked for: none


def _dynamic_facts(
    image: Image,
    layout: Layout,
    table: DynamicTable,
    addresses: AddressMap,
    sections: SectionTable | None,
    with_symbols: bool,
) -> _DynamicFacts:
    raw_needs = read_version_needs(image, layout, table, addresses)
    symbol_count = dynamic_symbol_count(image, layout, table, addresses, lambda: _dynsym_size(sections))
    symbols = None
    if with_symbols:
        symbols = read_version_symbol_rows(image, layout, table, addresses, raw_needs, symbol_count)
    return _DynamicFacts(
        needed=needed_names(image, table),
        soname=_optional_string(image, table, c.DT_SONAME, "DT_SONAME"),
        rpath=_path_list(image, table, c.DT_RPATH, "DT_RPATH"),
        runpath=_path_list(image, table, c.DT_RUNPATH, "DT_RUNPATH"),
        flags=flag_names(table),
        version_needs=tuple([VersionNeed(need.library, need.versions) for need in raw_needs]),
        version_definitions=read_version_definitions(image, layout, table, addresses),
        symbol_count=symbol_count,
        version_symbols=symbols,
    )


def _libc(
    image: Image,
    kind: Kind,
    facts: _DynamicFacts,
    interpreter: str | None,
    is_go: bool,
    segments: tuple[Segment, ...],
    sections: SectionTable | None,
) -> tuple[LibcInfo, bool | None]:
    """The libc family and minimum version, and (static glibc only) whether NSS code is linked in."""
    if kind in (Kind.STATIC, Kind.STATIC_PIE):
        image.search_first(_read_only_data(segments, sections))
        libc, nss = classify_static(image, is_go, _may_name_symbols(sections))
        return libc, nss if libc.family is LibcFamily.GLIBC else None
    if kind in (Kind.DYNAMIC, Kind.SHARED_LIBRARY):
        all_versions = [v for need in facts.version_needs for v in need.versions]
        libc = classify_dynamic(interpreter, facts.needed, all_versions)
        if facts.soname == "libc.so.6" or any(map(GLIBC_RELEASE_NODE.match, facts.version_definitions)):
            libc = libc_info(LibcFamily.GLIBC, libc.min_version)  # glibc itself: libc.so.6, ld.so, libm, ...
        return libc, None
    return libc_info(LibcFamily.UNKNOWN, None), None


def _may_name_symbols(sections: SectionTable | None) -> bool:
    """Whether symbol names can be in the file: a symbol table or debug strings, or no section headers to
    say there are none."""
    return sections is None or c.SHT_SYMTAB in sections.types or ".debug_str" in sections.names


def _parse(image: Image, with_symbols: bool) -> ElfInfo:
    header = read_header(image)
    layout = header.layout
    segments = read_segments(image, header)
    addresses = AddressMap(segments)
    interpreter = _interpreter(image, segments)
    table = _dynamic_table(image, header, segments, addresses)
    sections = read_section_table(image, header)
    notes = read_notes(image, layout, _note_segments(segments, sections))
    if table is not None:
        facts = _dynamic_facts(image, layout, table, addresses, sections, with_symbols)
    else:
        facts = _NO_DYNAMIC_WITH_SYMBOLS if with_symbols else _NO_DYNAMIC

    kind = _classify_kind(header.e_type, interpreter, table, facts.needed, facts.soname, facts.flags)
    libc, uses_nss = _libc(image, kind, facts, interpreter, notes.go_build_id, segments, sections)

    is_x86 = header.e_machine in (c.EM_X86_64, c.EM_386)
    return ElfInfo(
        path=image.path,
        size=image.size,
        elf_class=layout.elf_class,
        little_endian=layout.little_endian,
        machine=c.machine_name(header.e_machine, layout.elf_class, layout.little_endian),
        e_machine=header.e_machine,
        e_type=header.e_type,
        kind=kind,
        interpreter=interpreter,
        soname=facts.soname,
        needed=facts.needed,
        rpath=facts.rpath,
        runpath=facts.runpath,
        flags=facts.flags,
        version_needs=facts.version_needs,
        version_definitions=facts.version_definitions,
        libc=libc,
        build_id=notes.build_id,
        min_kernel=notes.min_kernel,
        isa_level=isa_level_name(notes.isa_needed) if is_x86 else None,
        dynamic_symbol_count=facts.symbol_count,
        stripped=None if sections is None else c.SHT_SYMTAB not in sections.types,
        debug_info=None if sections is None else not DEBUG_INFO_SECTIONS.isdisjoint(sections.names),
        sections=() if sections is None else sections.names,
        uses_nss=uses_nss,
        inode=image.inode,
        version_symbols=facts.version_symbols,
    )


def _optional_string(image: Image, table: DynamicTable, tag: int, what: str) -> str | None:
    value = table.first(tag)
    return None if value is None else dynamic_string(image, table, value, what)


def _path_list(image: Image, table: DynamicTable, tag: int, what: str) -> tuple[str, ...]:
    value = _optional_string(image, table, tag, what)
    return () if value is None else split_path_list(value)


def _classify_kind(
    e_type: int,
    interpreter: str | None,
    table: DynamicTable | None,
    needed: tuple[str, ...],
    soname: str | None,
    flags: tuple[str, ...] = (),
) -> Kind:
    if e_type == c.ET_REL:
        return Kind.OBJECT
    if e_type == c.ET_CORE:
        return Kind.CORE
    if e_type not in (c.ET_EXEC, c.ET_DYN):
        return Kind.OTHER
    if interpreter is not None:
        return Kind.DYNAMIC
    if table is None:
        return Kind.STATIC
    if needed or soname:
        return Kind.SHARED_LIBRARY
    if e_type == c.ET_EXEC:
        return Kind.STATIC
    # No NEEDED, no SONAME: a static-pie says so with DF_1_PIE (as `file` reads it); without it, it is a
    # plugin such as Python's lib-dynload modules, which only a process that loads it can satisfy.
    return Kind.STATIC_PIE if "PIE" in flags else Kind.SHARED_LIBRARY
