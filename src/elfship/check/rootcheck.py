"""Check a program against a real root filesystem: resolve as its loader would, then check every version
need of every object against the definitions of the object it binds to (ld.so's _dl_check_map_versions).

A program given as ROOT/... is that file of the root (read through the root, its symlinks resolved there);
a program from outside is placed inside the root (default /usr/local/bin/NAME, `at` to choose), and the
result says where (CheckResult.placed_at).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

from elfship.abi import highest_version, split_version_node
from elfship.check import fixes
from elfship.check.model import (
    INTERPRETER_MISSING,
    LIBRARY_MISSING,
    LIBRARY_UNLOADABLE,
    RESOLVER_WARNING,
    SHIPPED_ALONG,
    CheckResult,
    Finding,
    Severity,
)
from elfship.check.program import STATIC_KINDS, program_findings
from elfship.check.shipped import Shipped, offered_by_shipped, placed_beside, shipped_libraries
from elfship.check.versions import missing_version_findings
from elfship.elf import ElfInfo, read_elf, read_version_symbols
from elfship.elf.model import VersionSymbols
from elfship.errors import ElfError
from elfship.record import replace
from elfship.resolve import Resolution, ResolvedLibrary, Resolver
from elfship.resolve.confined import fd_path
from elfship.resolve.model import ProgramLocation
from elfship.resolve.rootfs import FileView, Located, open_located, read_elf_located, read_symbols_located
from elfship.sbom.runtime_strings import NOTHING, RuntimeStrings, read_runtime_strings
from elfship.targets.model import Target
from elfship.targets.root import target_from_root


def strings_of_located(found: Located | str) -> RuntimeStrings:
    """The run-time strings of a file inside a root, read through the descriptor opened inside it."""
    if isinstance(found, str) or found.is_dir:
        return NOTHING
    try:
        with open_located(found) as (fd, _), fd_path(fd, found.host_path) as path:
            return read_runtime_strings(path)
    except OSError:
        return NOTHING


def root_label(root: Path | str) -> str:
    return f"root:{root}"


def check_in_root(
    path: str, info: ElfInfo, root: Path, target: Target | None = None, *, at: str | None = None
) -> CheckResult:
    """Will `path` start inside `root`? `target` (from target_from_root) may be passed in to share it.

    `info` is what the caller read at `path`; for a program inside the root it is read again through the
    root (a symlink there means the root's file, not this machine's). `at`: where a program from outside
    the root stands in it. Raises ElfError when a path under the root names no usable file there.
    """
    path = os.fspath(path)  # callers of the API pass Path objects too
    target = target or target_from_root(root)
    # A root is checked with the environment its own services would have: no LD_LIBRARY_PATH of ours.
    resolver = Resolver(root, ld_library_path=[])
    place = resolver.locate_program(path, at=at)
    if not place.placed:
        info = resolver.read_program(place)
    placed_at = place.path if place.placed else None
    # A program of the root: its strings too are read through the root (a symlink means the root's file).
    strings = None if place.placed else strings_of_located(resolver.view.locate(place.path))
    findings = program_findings(info, target, strings)
    carried: tuple[tuple[str, str], ...] = ()
    if info.kind not in STATIC_KINDS and not any(f.kind == "wrong-architecture" for f in findings):
        resolution = resolver.resolve_info(path, info, place=place)
        travelling = _travelling(info, resolution) if place.placed else {}
        found = _resolution_findings(path, resolution, target, _Reader(resolver.view, place))
        findings.extend(
            f for f in found if not (f.kind == LIBRARY_MISSING and f.evidence.get("library") in travelling)
        )
        findings.extend(_shipped_findings(path, info, place, travelling, resolver, target))
        carried = tuple(
            (lib.path, placed_beside(lib, place.host_path, place.path)) for lib in travelling.values()
        )
    return CheckResult(
        path,
        root_label(root),
        tuple(_dedupe(findings)),
        placed_at=placed_at,
        arch=_arch(target),
        travelling=carried,
    )


def _travelling(info: ElfInfo, resolution: Resolution) -> dict[str, Shipped]:
    """The libraries beside the program on this machine that its $ORIGIN entries reach and the root does
    not answer at the placed $ORIGIN: they travel with the program (docs/check.md, "shipped along")."""
    answered = {lib.soname for lib in resolution.libraries}
    origin = os.path.dirname(os.path.realpath(info.path))
    return {
        name: lib
        for name, lib in shipped_libraries(info).items()
        if name not in answered and _same_payload(origin, lib.path)
    }


# An $ORIGIN entry may climb out of the program's tree ($ORIGIN/../../../lib/x86_64-linux-gnu): what it
# reaches there is this machine's system, which never travels. The program and a travelling library share
# a directory below these.
_SYSTEM_TOPS = ("/", "/usr", "/usr/local")


def _same_payload(origin: str, library: str) -> bool:
    common = os.path.commonpath([origin, os.path.realpath(library)])
    return common not in _SYSTEM_TOPS


def _shipped_findings(
    path: str,
    program: ElfInfo,
    place: ProgramLocation,
    travelling: dict[str, Shipped],
    resolver: Resolver,
    target: Target,
) -> list[Finding]:
    """Each travelling library, placed beside the placed program, resolved in the root like the program:
    its own NEEDED (other than what travels too) and version needs must be met there."""
    if not travelling:
        return []
    placed = {name: placed_beside(lib, place.host_path, place.path) for name, lib in travelling.items()}
    names = ", ".join(f"{name} ({placed[name]}, from {lib.path})" for name, lib in travelling.items())
    findings = [
        Finding.make(
            SHIPPED_ALONG,
            Severity.INFO,
            f"taken as shipped along (reached through $ORIGIN, found beside the program, placed beside it "
            f"in the root): {names}",
            None,
            libraries=[
                {"soname": n, "path": lib.path, "placed_at": placed[n], "needed_by": lib.needed_by}
                for n, lib in travelling.items()
            ],
        )
    ]
    needers: list[tuple[str | None, str, ElfInfo]] = [(None, place.host_path, program)]
    needers.extend((name, lib.path, lib.info) for name, lib in travelling.items())
    for needer, host_path, info in needers:
        findings.extend(_needs_on_travelling(path, needer, host_path, info, travelling, target))
    for name, lib in travelling.items():
        spot = ProgramLocation(lib.path, placed[name], placed[name], None, placed=True)
        resolution = resolver.resolve_info(lib.path, lib.info, place=spot)
        for finding in _resolution_findings(path, resolution, target, _Reader(resolver.view, spot), name):
            if not (finding.kind == LIBRARY_MISSING and finding.evidence.get("library") in travelling):
                findings.append(finding)
    return findings


def _needs_on_travelling(
    path: str,
    needer: str | None,
    host_path: str,
    info: ElfInfo,
    travelling: dict[str, Shipped],
    target: Target,
) -> list[Finding]:
    """Version needs on a travelling library are judged against that very file, as ld.so would."""
    findings: list[Finding] = []
    for need in info.version_needs:
        shipped = travelling.get(need.library)
        if shipped is None:
            continue
        missing = [v for v in need.versions if v not in set(shipped.info.version_definitions)]
        if missing:
            findings.extend(
                missing_version_findings(
                    program_path=path,
                    needer=needer,
                    library=need.library,
                    missing=missing,
                    symbols=_symbols(host_path),
                    offered=functools.partial(offered_by_shipped, shipped),
                    glibc_fix=_glibc_fix(path, target),
                    evidence={"library_path": shipped.path},
                )
            )
    return findings


def _glibc_fix(path: str, target: Target) -> str:
    return fixes.glibc_too_new(path, target.name, target.libc_version or "the root's")


def _arch(target: Target) -> str:
    return "" if target.arch == "unknown" else target.arch


def read_program(path: str, roots: Sequence[Path]) -> ElfInfo:
    """The ELF facts of PATH: read through the root it lies in (its symlinks resolved inside that root,
    never through this machine's), else from this machine. Raises ElfError."""
    for root in roots:
        view = FileView(root)
        inside = view.inside(path)
        if inside is None:
            continue
        found = view.locate(inside)
        if isinstance(found, str) or found.is_dir:
            problem = found if isinstance(found, str) else "a directory"
            raise ElfError(path, f"{problem} inside the root {root} (symlinks resolved in the root)")
        return replace(read_elf_located(found), path=path)
    return read_elf(path)


class _Reader:
    """Reads version symbols of the program and of the root's libraries, each from where it really is."""

    def __init__(self, view: FileView, place: ProgramLocation) -> None:
        self.view = view
        self.place = place

    def symbols(self, library: ResolvedLibrary | None) -> VersionSymbols:
        if library is None and self.place.placed:
            return _symbols(self.place.host_path)  # a program from outside: its bytes are on this machine
        found = self.view.locate(self.place.path if library is None else library.path or "")
        if not isinstance(found, Located):
            return {}
        try:
            return read_symbols_located(found)
        except ElfError:
            return {}


def _dedupe(findings: list[Finding]) -> list[Finding]:
    # A libc mismatch also shows up as a missing interpreter; say the cause once, keep the evidence.
    if any(f.kind == "libc-mismatch" for f in findings):
        return [f for f in findings if f.kind != INTERPRETER_MISSING]
    return findings


def _resolution_findings(
    path: str, resolution: Resolution, target: Target, reader: _Reader, label: str | None = None
) -> list[Finding]:
    findings = [Finding.make(RESOLVER_WARNING, Severity.WARNING, w) for w in resolution.warnings]
    interpreter = resolution.interpreter
    if interpreter is not None and interpreter.missing:
        findings.append(_interpreter_missing(path, resolution, target))
        return findings  # the kernel cannot even start the loader: nothing else happens
    for library in resolution.missing:
        findings.append(_missing(path, library, target))
    for library in resolution.libraries:
        if library.error:
            findings.append(
                Finding.make(
                    LIBRARY_UNLOADABLE,
                    Severity.ERROR,
                    f"{library.soname} at {library.path}: {library.error}",
                    f"replace {library.path} with a {resolution.program.machine} library, or bundle",
                    library=library.soname,
                    library_path=library.path,
                )
            )
    findings.extend(_version_findings(path, resolution, target, reader, label))
    return findings


def _interpreter_missing(path: str, resolution: Resolution, target: Target) -> Finding:
    interp = resolution.program.interpreter
    return Finding.make(
        INTERPRETER_MISSING,
        Severity.ERROR,
        f"the interpreter {interp} is not in the root (the kernel reports 'No such file or directory')",
        fixes.libc_mismatch(resolution.program.libc.family.value, target.libc, path),
        interpreter=interp,
    )


def _missing(path: str, library: ResolvedLibrary, target: Target) -> Finding:
    install = target.install_command(library.soname)
    steps = [{"source": s.source, "path": s.path, "outcome": s.outcome} for s in library.steps]
    needers = ", ".join(library.needed_by)
    how = f" (install: {install})" if install else ""
    hint = f"; {library.hint}" if library.hint else ""
    return Finding.make(
        LIBRARY_MISSING,
        Severity.ERROR,
        f"{library.soname} => not found (needed by {needers}){how}{hint}",
        fixes.missing_library(path, library.soname, install),
        library=library.soname,
        needed_by=list(library.needed_by),
        install=install,
        search_steps=steps,
    )


def _providers(resolution: Resolution) -> dict[str, ResolvedLibrary]:
    """Every name a loaded object answers to (the DT_NEEDED name and its DT_SONAME), as ld.so matches."""
    providers: dict[str, ResolvedLibrary] = {}
    objects = list(resolution.libraries)
    if resolution.interpreter is not None and not resolution.interpreter.missing:
        objects.append(resolution.interpreter)
    for lib in objects:
        providers.setdefault(lib.soname, lib)
        if lib.info is not None and lib.info.soname:
            providers.setdefault(lib.info.soname, lib)
    return providers


def _version_findings(
    path: str, resolution: Resolution, target: Target, reader: _Reader, label: str | None = None
) -> list[Finding]:
    """label: the soname of a shipped library resolved as its own start (None: the program)."""
    providers = _providers(resolution)
    needers: list[tuple[str | None, ResolvedLibrary | None, ElfInfo]] = [(label, None, resolution.program)]
    needers.extend(
        (lib.soname, lib, lib.info)
        for lib in resolution.libraries
        if lib.info is not None and lib.host_path is not None
    )
    findings: list[Finding] = []
    for needer, library, info in needers:
        symbols = None
        for need in info.version_needs:
            provider = providers.get(need.library)
            if provider is None or provider.info is None:
                continue  # a missing library is reported as such
            defined = set(provider.info.version_definitions)
            missing = [v for v in need.versions if v not in defined]
            if not missing:
                continue
            if symbols is None:
                symbols = reader.symbols(library)
            findings.extend(
                missing_version_findings(
                    program_path=path,
                    needer=needer,
                    library=need.library,
                    missing=missing,
                    symbols=symbols,
                    offered=functools.partial(_offered, provider=provider, target=target),
                    glibc_fix=_glibc_fix(path, target),
                    evidence={"library_path": provider.path},
                )
            )
    return findings


def _symbols(host_path: str) -> VersionSymbols:
    try:
        return read_version_symbols(host_path)
    except ElfError:
        return {}


def _offered(namespace: str, provider: ResolvedLibrary, target: Target) -> str:
    if namespace == "GLIBC" and target.libc == "glibc" and target.libc_version:
        return f"the root's glibc is {target.libc_version} ({provider.path})"
    definitions = provider.info.version_definitions if provider.info else ()
    ours = {version for space, version in map(split_version_node, definitions) if space == namespace}
    newest = highest_version(ours)
    if newest is None:
        return f"{provider.path} defines no {namespace} version"
    return f"{provider.path} defines up to {namespace}_{newest}"
