"""read_elf: one parse of one file into an ElfInfo. Never executes anything; every read is bounded."""

from __future__ import annotations

import os

from elfship.elf import constants as c
from elfship.elf.dynamic import (
    DynamicTable,
    dynamic_string,
    dynamic_symbol_count,
    flag_names,
    read_dynamic,
    read_version_definitions,
    read_version_needs,
    read_versioned_undefined_symbols,
    split_path_list,
)
from elfship.elf.headers import AddressMap, Header, Segment, read_header, read_sections, read_segments
from elfship.elf.image import Image
from elfship.elf.libc import classify_dynamic, classify_static
from elfship.elf.model import ElfInfo, Kind, LibcFamily, LibcInfo, VersionNeed
from elfship.elf.notes import isa_level_name, read_notes
from elfship.errors import ElfError

PathLike = str | os.PathLike[str]


def read_elf(path: PathLike) -> ElfInfo:
    """Read every fact elfship needs from one ELF file. Raises ElfError with a one-line reason."""
    name = os.fspath(path)
    with Image(name) as image:
        try:
            return _parse(image)
        except (ValueError, OverflowError, IndexError) as exc:  # a structure no check anticipated
            raise ElfError(name, f"corrupt ELF structure ({exc})") from None


def read_version_symbols(path: PathLike) -> dict[str, dict[str, tuple[str, ...]]]:
    """library -> version -> the undefined symbols that need it: the culprits behind a too-new version."""
    name = os.fspath(path)
    with Image(name) as image:
        try:
            header = read_header(image)
            segments = read_segments(image, header)
            addresses = AddressMap(segments)
            table = _dynamic_table(image, header, segments, addresses)
            if table is None:
                return {}
            needs = read_version_needs(image, header.layout, table, addresses)
            return read_versioned_undefined_symbols(image, header.layout, table, addresses, needs)
        except (ValueError, OverflowError, IndexError) as exc:
            raise ElfError(name, f"corrupt ELF structure ({exc})") from None


def _dynamic_table(
    image: Image, header: Header, segments: tuple[Segment, ...], addresses: AddressMap
) -> DynamicTable | None:
    dynamic = next((s for s in segments if s.p_type == c.PT_DYNAMIC), None)
    return None if dynamic is None else read_dynamic(image, header.layout, dynamic, addresses)


def _interpreter(image: Image, segments: tuple[Segment, ...]) -> str | None:
    seg = next((s for s in segments if s.p_type == c.PT_INTERP), None)
    if seg is None:
        return None
    raw = image.slice(seg.offset, seg.filesz, "PT_INTERP")
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _parse(image: Image) -> ElfInfo:
    header = read_header(image)
    layout = header.layout
    segments = read_segments(image, header)
    addresses = AddressMap(segments)
    interpreter = _interpreter(image, segments)
    table = _dynamic_table(image, header, segments, addresses)
    notes = read_notes(image, layout, segments)
    sections = read_sections(image, header)

    needed: tuple[str, ...] = ()
    soname = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    version_needs: tuple[VersionNeed, ...] = ()
    version_definitions: tuple[str, ...] = ()
    symbol_count = None
    if table is not None:
        needed = tuple(dynamic_string(image, table, v, "DT_NEEDED") for v in table.values(c.DT_NEEDED))
        soname = _optional_string(image, table, c.DT_SONAME, "DT_SONAME")
        rpath = _path_list(image, table, c.DT_RPATH, "DT_RPATH")
        runpath = _path_list(image, table, c.DT_RUNPATH, "DT_RUNPATH")
        flags = flag_names(table)
        raw_needs = read_version_needs(image, layout, table, addresses)
        version_needs = tuple(VersionNeed(n.library, tuple(v for _, v in n.versions)) for n in raw_needs)
        version_definitions = read_version_definitions(image, layout, table, addresses)
        symbol_count = dynamic_symbol_count(image, layout, table, addresses)

    kind = _classify_kind(header.e_type, interpreter, table, needed, soname)
    uses_nss = None
    if kind in (Kind.STATIC, Kind.STATIC_PIE):
        libc, nss = classify_static(image, notes.go_build_id)
        uses_nss = nss if libc.family is LibcFamily.GLIBC else None
    elif kind in (Kind.DYNAMIC, Kind.SHARED_LIBRARY):
        all_versions = [v for need in version_needs for v in need.versions]
        libc = classify_dynamic(interpreter, needed, all_versions)
        if soname == "libc.so.6":
            libc = LibcInfo(LibcFamily.GLIBC, libc.min_version)
    else:
        libc = LibcInfo(LibcFamily.UNKNOWN, None)

    section_names = tuple(n for n, _ in sections) if sections is not None else None
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
        soname=soname,
        needed=needed,
        rpath=rpath,
        runpath=runpath,
        flags=flags,
        version_needs=version_needs,
        version_definitions=version_definitions,
        libc=libc,
        build_id=notes.build_id,
        min_kernel=notes.min_kernel,
        isa_level=isa_level_name(notes.isa_needed) if is_x86 else None,
        dynamic_symbol_count=symbol_count,
        stripped=None if sections is None else not any(s.sh_type == c.SHT_SYMTAB for _, s in sections),
        debug_info=None
        if section_names is None
        else bool({".debug_info", ".zdebug_info"} & set(section_names)),
        sections=section_names or (),
        uses_nss=uses_nss,
        inode=image.inode,
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
    return Kind.STATIC_PIE if e_type == c.ET_DYN else Kind.STATIC
