"""One file -> its Inventory: crates, C libraries, libc, toolchains, Go modules, and loaded system libraries."""

from __future__ import annotations

import hashlib
import os
import struct
from typing import Any

from elfship.elf import Kind, LibcFamily, read_elf
from elfship.elf.image import Image
from elfship.elf.model import ElfInfo
from elfship.errors import ElfError
from elfship.record import record
from elfship.sbom import cargo, clibs, toolchain
from elfship.sbom.model import (
    ECOSYSTEM_CRATES,
    ECOSYSTEM_GO,
    ECOSYSTEM_RUST_STD,
    Component,
    ComponentKind,
    Confidence,
    Inventory,
)
from elfship.sbom.purl import cpe, purl
from elfship.sbom.sections import SectionView
from elfship.sbom.upstream import Upstream, upstream_of

MAX_COMMENT = 64 * 1024
MAX_GO_BUILDINFO = 4 * 1024 * 1024
DEBUG_STRINGS = (".debug_str", ".debug_line_str")
DIGEST_SLICE = 8 * 1024 * 1024


def inventory(
    path: str | os.PathLike[str], *, root: str | None = None, libraries: bool = True, digest: bool = True
) -> Inventory:
    """Everything PATH carries (read from its bytes) and, for a dynamic program, loads (from the resolver in
    ROOT, None = this machine). Never executes the file. Raises ElfError for a file that is not ELF."""
    name = os.fspath(path)
    info = read_elf(name)
    try:
        read = _read_contents(name, digest)
    except (ValueError, OverflowError, IndexError, struct.error) as exc:  # a structure no check foresaw
        raise ElfError(name, f"corrupt ELF structure ({exc})") from None
    sources = [s for s in (read.crate_source, "content") if s]
    components = [*read.crates, *_c_libraries(read.crates, read.c_libraries), *read.tools, *_libc(info)]
    notes: list[str] = []
    if libraries and info.kind in (Kind.DYNAMIC, Kind.SHARED_LIBRARY):
        from elfship.sbom.system import system_libraries  # the resolver: only dynamic files pay for it

        loaded, warnings = system_libraries(info, root)
        components.extend(loaded)
        notes.extend(warnings)
        sources.append("resolver")
    if read.tools:
        sources.append("toolchain")
    return Inventory(name, info.kind.value, read.sha256, tuple(components), tuple(sources), tuple(notes))


@record
class _Contents:
    """What the file's own bytes say."""

    crates: list[Component]
    crate_source: str | None  # "dep-v0", "registry-paths" or None
    tools: list[Component]  # compilers, and the Go toolchain with its modules
    c_libraries: tuple[clibs.Finding, ...]
    sha256: str


def _read_contents(name: str, with_digest: bool) -> _Contents:
    with Image(name) as image:
        view = SectionView(image)
        digest = _sha256(image) if with_digest else ""
        strings = view.string_data()
        # Debug builds name their sources in debug info only (panic locations are in .rodata otherwise).
        debug = any(view.has(s) for s in DEBUG_STRINGS)
        crates, crate_source = _crates(view, view.string_data(DEBUG_STRINGS) if debug else strings, name)
        tools, go_parts = _toolchains(view)
        defined = view.defined_symbols(clibs.all_symbols())
        found = clibs.find_c_libraries(strings, defined, view.symbol_strings(clibs.version_symbols()))
    return _Contents(crates, crate_source, [*tools, *go_parts], found, digest)


def _sha256(image: Image) -> str:
    """The file's digest, read in slices whose pages are given back after each (a 2 GB file, sparse or not,
    must not become 2 GB of resident memory)."""
    digest = hashlib.sha256()
    for start in range(0, image.size, DIGEST_SLICE):
        digest.update(image.copy_out(start, DIGEST_SLICE))
    return digest.hexdigest()


def _crates(view: SectionView, strings: Any, path: str) -> tuple[list[Component], str | None]:
    for section in cargo.DEP_SECTIONS:
        raw = view.read(section)
        if raw is not None:
            return [_crate(c, section) for c in cargo.decode_dep_v0(raw, path)], "dep-v0"
    found = cargo.registry_crates(strings)
    crates = [
        Component(
            name=name,
            version=version,
            kind=ComponentKind.RUST_CRATE,
            confidence=Confidence.HEURISTIC,
            evidence=(f"{count} registry source path(s) in the file's strings",),
            purl=purl("cargo", name, version),
            ecosystem=ECOSYSTEM_CRATES,
            count=count,
        )
        for (name, version), count in sorted(found.items())
    ]
    return crates, "registry-paths" if crates else None


def _crate(crate: cargo.Crate, section: str) -> Component:
    from_registry = crate.source in ("crates.io", "registry")
    return Component(
        name=crate.name,
        version=crate.version,
        kind=ComponentKind.RUST_CRATE,
        confidence=Confidence.EXACT,
        evidence=(f"{section} section ({crate.source}, {crate.kind}{', root' if crate.root else ''})",),
        purl=purl("cargo", crate.name, crate.version),
        ecosystem=ECOSYSTEM_CRATES if from_registry else None,
        dependencies=crate.dependencies,
    )


def _c_libraries(crates: list[Component], found: tuple[clibs.Finding, ...]) -> list[Component]:
    """Merge what crates say (-src crates: always built in) with what the content shows (-sys crates only
    count when the content confirms they bundled their library)."""
    by_name = {f.name: f for f in found}
    upstreams: dict[str, Upstream] = {}
    for crate in crates:
        if crate.version is None:
            continue
        up = upstream_of(crate.name, crate.version)
        if up is not None and (crate.name.endswith("-src") or up.name in by_name):
            upstreams.setdefault(up.name, up)  # openssl-src wins over openssl-sys (listed in crate order)
    names = sorted(set(by_name) | set(upstreams))
    return [_c_library(n, upstreams.get(n), by_name.get(n), crates) for n in names]


def _c_library(
    name: str, up: Upstream | None, finding: clibs.Finding | None, crates: list[Component]
) -> Component:
    evidence: list[str] = []
    version = None
    confidence = Confidence.HIGH
    if up is not None:
        crate = next(c for c in crates if c.name == up.crate)
        evidence.append(f"built by crate {up.crate} {up.crate_version} ({crate.confidence.value})")
        version = up.version
        confidence = Confidence.EXACT if up.version and crate.confidence is Confidence.EXACT else confidence
    if finding is not None:
        evidence.extend(finding.signals)
        if version is None:
            version = finding.version
        elif finding.version and finding.version != version:
            evidence.append(f"content says {finding.version}, the crate says {version}")
    vendor_product = up.cpe_vendor_product if up else finding.cpe_vendor_product if finding else ""
    return Component(
        name=name,
        version=version,
        kind=ComponentKind.C_LIBRARY,
        confidence=confidence,
        evidence=tuple(evidence),
        purl=purl("generic", name, version),
        cpe=cpe(vendor_product, version) if vendor_product else None,
        package=up.crate if up else None,
    )


def _toolchains(view: SectionView) -> tuple[list[Component], list[Component]]:
    tools = []
    comment = view.read(".comment", MAX_COMMENT)
    for tool in toolchain.compilers(comment or b""):
        tools.append(
            Component(
                name=tool.name,
                version=tool.version,
                kind=ComponentKind.TOOLCHAIN,
                confidence=Confidence.EXACT,
                evidence=(f".comment {tool.detail!r}",),
                purl=purl("generic", tool.name, tool.version),
                ecosystem=ECOSYSTEM_RUST_STD if tool.name == "rustc" else None,
            )
        )
    raw = view.read(".go.buildinfo", MAX_GO_BUILDINFO)
    if raw is None and not view.sections:  # no section headers (sstrip): Go's blob is found by its magic
        data = view.head  # bounded: a file may claim gigabytes
        at = data.find(toolchain.GO_MAGIC)
        while at >= 0 and at % 16:  # the blob is 16-byte aligned; text elsewhere may quote the magic
            at = data.find(toolchain.GO_MAGIC, at + 1)
        raw = bytes(data[at : at + MAX_GO_BUILDINFO]) if at >= 0 else None
    build = toolchain.go_build_info(raw) if raw else None
    return tools, _go_components(build) if build else []


def _go_components(build: toolchain.GoBuildInfo) -> list[Component]:
    stdlib_version = build.go_version.removeprefix("go").split()[0]
    parts = [
        Component(
            name="stdlib",
            version=stdlib_version,
            kind=ComponentKind.TOOLCHAIN,
            confidence=Confidence.EXACT,
            evidence=(f".go.buildinfo {build.go_version}",),
            purl=purl("golang", "stdlib", stdlib_version),
            ecosystem=ECOSYSTEM_GO,
        )
    ]
    for module in build.modules:
        version = None if module.version == "(devel)" else module.version
        parts.append(
            Component(
                name=module.path,
                version=version,
                kind=ComponentKind.GO_MODULE,
                confidence=Confidence.EXACT,
                evidence=(".go.buildinfo " + ("main module" if module.main else "dependency"),),
                purl=purl("golang", module.path, version),
                ecosystem=ECOSYSTEM_GO if version else None,
            )
        )
    return parts


def _libc(info: ElfInfo) -> list[Component]:
    """The libc a static binary carries. Its version is not recorded in the file (said, not guessed)."""
    if info.kind not in (Kind.STATIC, Kind.STATIC_PIE):
        return []
    family = info.libc.family
    if family not in (LibcFamily.GLIBC, LibcFamily.MUSL):
        return []
    return [
        Component(
            name=family.value,
            version=None,
            kind=ComponentKind.LIBC,
            confidence=Confidence.HIGH,
            evidence=(
                f"{family.value}'s static start-up code (signature strings); its version is not recorded",
            ),
            purl=purl("generic", family.value, None),
            cpe=cpe("gnu:glibc" if family is LibcFamily.GLIBC else "musl-libc:musl", None),
        )
    ]
