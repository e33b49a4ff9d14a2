"""Compilers recorded in the file: rustc and gcc from .comment, the Go toolchain and modules from Go's build
info (.go.buildinfo: "\\xff Go buildinf:", pointer size, flags, then varint-prefixed strings since Go 1.18).
"""

from __future__ import annotations

import re

from elfship.record import record

RUSTC = re.compile(
    rb"rustc version (\d+\.\d+\.\d+(?:-[a-z]+(?:\.\d+)?)?)(?: \(([0-9a-f]{7,40}) (\d{4}-\d\d-\d\d)\))?"
)
GCC = re.compile(rb"GCC: \(([^)\0]{1,80})\) (\d+\.\d+(?:\.\d+)?)")
GO_MAGIC = b"\xff Go buildinf:"
MAX_GO_STRING = 1024 * 1024


@record
class Tool:
    name: str  # "rustc", "gcc", "go"
    version: str
    detail: str  # the text it was read from


@record
class GoModule:
    path: str
    version: str
    main: bool  # the module the program was built from


@record
class GoBuildInfo:
    go_version: str  # "go1.19.8"
    modules: tuple[GoModule, ...]


def compilers(comment: bytes) -> tuple[Tool, ...]:
    """rustc and gcc versions from a .comment section (several compilers may each leave a line)."""
    tools: list[Tool] = []
    for match in RUSTC.finditer(comment):
        tools.append(Tool("rustc", match.group(1).decode(), match.group(0).decode(errors="replace")))
    for match in GCC.finditer(comment):
        tools.append(Tool("gcc", match.group(2).decode(), match.group(0).decode(errors="replace")))
    unique = {(t.name, t.version): t for t in tools}
    return tuple(unique.values())


def go_build_info(section: bytes) -> GoBuildInfo | None:
    """Parse .go.buildinfo (Go >= 1.18 inline strings). None for older layouts or malformed data."""
    if not section.startswith(GO_MAGIC) or len(section) < 32:
        return None
    flags = section[15]
    if not flags & 0x2:  # pre-1.18: pointers into the data segment; not worth the risk of chasing them
        return None
    position = 32
    version, position = _varint_string(section, position)
    modinfo, position = _varint_string(section, position)
    if version is None or not version.startswith("go"):
        return None
    return GoBuildInfo(version, _modules(modinfo or ""))


def _varint_string(data: bytes, position: int) -> tuple[str | None, int]:
    length, shift = 0, 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    else:
        return None, position
    if length > MAX_GO_STRING or position + length > len(data):
        return None, position
    return data[position : position + length].decode("utf-8", "replace"), position + length


def _modules(modinfo: str) -> tuple[GoModule, ...]:
    """Lines of `go version -m`: "path\\t<main>", "mod\\t<path>\\t<version>\\t<sum>", "dep\\t...", "=>\\t..."."""
    modules: list[GoModule] = []
    for line in modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] in ("mod", "dep") and len(fields) >= 3:
            modules.append(GoModule(fields[1], fields[2], fields[0] == "mod"))
        elif fields[0] == "=>" and len(fields) >= 3 and modules:
            replaced = modules.pop()  # a replace directive: the code actually built is the replacement
            modules.append(GoModule(fields[1], fields[2], replaced.main))
    return tuple(modules)
