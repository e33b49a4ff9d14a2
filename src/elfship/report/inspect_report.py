"""Render ElfInfo for people (aligned text) and machines (the inspect JSON contract)."""

from __future__ import annotations

from elfship.abi import highest_node_per_namespace, split_version_node, version_key
from elfship.elf.model import ElfInfo, Kind, VersionSymbols
from elfship.report.table import table_lines
from elfship.report.units import human_size

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

MAX_SYMBOLS_SHOWN = 6


def version_requirements(info: ElfInfo, symbols: VersionSymbols) -> dict[str, dict[str, list[str]]]:
    """Every version each library must define, with the undefined symbols bound to it ([] when none)."""
    return {
        need.library: {v: list(symbols.get(need.library, {}).get(v, ())) for v in need.versions}
        for need in info.version_needs
    }


def to_json(info: ElfInfo, symbols: VersionSymbols) -> dict[str, Any]:
    return {
        "path": info.path,
        "size": info.size,
        "elf_class": f"ELF{info.elf_class}",
        "endianness": info.endianness,
        "machine": info.machine,
        "kind": info.kind.value,
        "interpreter": info.interpreter,
        "soname": info.soname,
        "needed": list(info.needed),
        "rpath": list(info.rpath),
        "runpath": list(info.runpath),
        "flags": list(info.flags),
        "libc": {"family": info.libc.family.value, "min_version": info.libc.min_version},
        "version_requirements": version_requirements(info, symbols),
        "version_definitions": list(info.version_definitions),
        "build_id": info.build_id,
        "min_kernel": info.min_kernel,
        "isa_level": info.isa_level,
        "stripped": info.stripped,
        "debug_info": info.debug_info,
        "dynamic_symbol_count": info.dynamic_symbol_count,
        "uses_nss": info.uses_nss,
    }


def _symbols_text(names: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(names[:MAX_SYMBOLS_SHOWN])
    more = len(names) - MAX_SYMBOLS_SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown or "(no symbol bound to it)"


def _kind_text(info: ElfInfo) -> str:
    notes = {
        Kind.STATIC: "no dynamic section: needs no loader and no shared library",
        Kind.STATIC_PIE: "self-relocating, needs no loader and no shared library",
        Kind.DYNAMIC: "needs its interpreter and the libraries below",
        Kind.SHARED_LIBRARY: "loaded by a program's loader",
    }
    pie = " (PIE)" if "PIE" in info.flags else ""
    note = notes.get(info.kind)
    return f"{info.kind.value}{pie}" + (f": {note}" if note else "")


def _libc_text(info: ElfInfo) -> str:
    family = info.libc.family.value
    if info.libc.min_version:
        return f"{family}, needs glibc >= {info.libc.min_version}"
    if info.kind in (Kind.STATIC, Kind.STATIC_PIE) and family in ("glibc", "musl"):
        nss = " (uses NSS: needs the build host's libnss_* at run time)" if info.uses_nss else ""
        return f"{family}, linked in statically{nss}"
    return family


def to_text(info: ElfInfo, symbols: VersionSymbols, *, all_versions: bool = False) -> str:
    rows: list[tuple[str, str]] = [
        ("kind", _kind_text(info)),
        ("machine", f"{info.machine}, ELF{info.elf_class}, {info.endianness} endian"),
        ("libc", _libc_text(info)),
    ]
    optional = (
        ("interpreter", info.interpreter),
        ("soname", info.soname),
        ("needed", ", ".join(info.needed)),
        ("rpath", ":".join(info.rpath)),
        ("runpath", ":".join(info.runpath)),
        ("flags", " ".join(info.flags)),
        ("min kernel", info.min_kernel),
        ("isa level", info.isa_level),
        ("build-id", info.build_id),
    )
    rows.extend((label, value) for label, value in optional if value)
    stripped = {None: "no section headers", True: "stripped", False: "not stripped"}[info.stripped]
    debug = ", with debug info" if info.debug_info else ""
    rows.append(("size", f"{human_size(info.size)} ({info.size} bytes), {stripped}{debug}"))
    lines = [info.path] + [f"  {label:<12} {value}" for label, value in rows]
    lines.extend(_version_lines(info, symbols, all_versions))
    return "\n".join(lines)


def _version_lines(info: ElfInfo, symbols: VersionSymbols, all_versions: bool) -> list[str]:
    if not info.version_needs:
        return []
    heading = (
        "all versions needed" if all_versions else "highest versions needed, and the symbols that need them"
    )
    rows: list[tuple[str, str, str]] = []
    for need in info.version_needs:
        chosen = (
            sorted(need.versions, key=_sort_key)
            if all_versions
            else highest_node_per_namespace(need.versions)
        )
        for version in chosen:
            names = symbols.get(need.library, {}).get(version, ())
            rows.append((need.library, version, _symbols_text(names)))
    if not rows:
        return []
    return [f"  {heading}:", *table_lines(rows, indent="    ")]  # libm.so.6  GLIBC_2.29  exp, pow


def _sort_key(node: str) -> tuple[str, tuple[int, ...]]:
    namespace, version = split_version_node(node)
    return namespace, version_key(version)
