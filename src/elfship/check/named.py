"""Check a program against a named release (debian:10, rhel:8, alpine:3.19) from packaged facts.

Every needed library is present, absent or of unknown presence on the release; every version need is
provided, missing or unknown. Unknown is never a silent pass: an unknown library makes the verdict `unknown`,
an unknown version node of a present library is a warning naming the gap.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from elfship.check import fixes
from elfship.check.model import (
    LIBRARY_NOT_IN_BASE,
    LIBRARY_UNVERIFIED,
    VERSION_UNVERIFIED,
    CheckResult,
    Finding,
    Severity,
)
from elfship.check.program import STATIC_KINDS, program_findings
from elfship.check.versions import SymbolTable, missing_version_findings
from elfship.elf import ElfInfo, read_version_symbols
from elfship.resolve.walk import MUSL_RESERVED
from elfship.targets import Target

# musl's C library under the names a musl program needs it by: part of every musl system.
MUSL_LIBC_PREFIXES = ("libc.musl-", "ld-musl-")


def check_info(
    info: ElfInfo,
    target: Target,
    symbols: SymbolTable | None = None,
    assume_present: frozenset[str] = frozenset(),
) -> CheckResult:
    """Will `info` start on `target`? Symbols (the culprits) are read only when a version is missing.

    `assume_present`: sonames the user states their servers have (`--assume-present`), taken as shipped.
    """
    findings = program_findings(info, target)
    if info.kind not in STATIC_KINDS and not _libc_mismatch(findings):
        presence = {soname: library_presence(target, soname, assume_present) for soname in info.needed}
        findings.extend(_version_findings(info, target, symbols, presence))
        findings.extend(_library_findings(info, target, presence))
    return CheckResult(info.path, target.name, tuple(findings), arch=target.arch)


def library_presence(
    target: Target, soname: str, assume_present: frozenset[str] = frozenset()
) -> bool | None:
    """Does `target` have `soname` without installing anything? None when nobody measured it.

    Where the base system was measured (a minbase root, an image's package list), that list decides, for
    glibc's and GCC's libraries too (Debian minbase has no libatomic.so.1 nor libgomp.so.1). Elsewhere only
    the C library itself is taken as present, and libgcc_s.so.1 where the release's GCC version nodes were
    measured (glibc loads it itself for pthread_cancel and backtraces, so every glibc release ships it).
    """
    if soname in assume_present:
        return True
    if target.libc == "musl" and soname.startswith((*MUSL_RESERVED, *MUSL_LIBC_PREFIXES)):
        return True  # musl's loader answers libc.so, libm.so, libpthread.so, ... with itself
    shipped = target.ships_soname(soname)
    if shipped is not None:
        return shipped
    if target.libc == "glibc":
        if soname in fixes.GLIBC_SONAMES:
            return True
        if soname == "libgcc_s.so.1" and target.version_nodes.get("GCC"):
            return True
    return None


def _libc_mismatch(findings: list[Finding]) -> bool:
    return any(f.kind in ("libc-mismatch", "wrong-architecture") for f in findings)


def _version_findings(
    info: ElfInfo, target: Target, symbols: SymbolTable | None, presence: Mapping[str, bool | None]
) -> list[Finding]:
    findings: list[Finding] = []
    for need in info.version_needs:
        answers = {v: target.provides_version(need.library, v) for v in need.versions}
        missing = [v for v, provided in answers.items() if provided is False]
        unknown = [v for v, provided in answers.items() if provided is None]
        # A library known to be absent already fails, one of unknown presence is already `unknown`: only
        # a present library's unknown nodes are a gap left to name.
        if unknown and presence.get(need.library):
            findings.append(_version_unverified(info, target, need.library, unknown))
        if not missing:
            continue
        if symbols is None:
            symbols = read_version_symbols(info.path)
        findings.extend(
            missing_version_findings(
                program_path=info.path,
                needer=None,
                library=need.library,
                missing=missing,
                symbols=symbols,
                offered=functools.partial(_offered, target, need.library),
                glibc_fix=fixes.glibc_too_new(info.path, target.name, target.libc_version),
            )
        )
    return findings


def _offered(target: Target, library: str, namespace: str) -> str:
    if namespace == "GLIBC" and target.libc == "glibc":
        return f"{target.display_name} has glibc {target.libc_version}"
    highest = target.highest_library_node(library, namespace)
    if highest is None:
        return f"{target.display_name}'s {library} defines no {namespace} version"
    return f"{target.display_name} offers up to {namespace}_{highest}"


def _version_unverified(info: ElfInfo, target: Target, library: str, versions: list[str]) -> Finding:
    return Finding.make(
        VERSION_UNVERIFIED,
        Severity.WARNING,
        f"{library} needs {', '.join(versions)}: which versions {target.display_name}'s {library} defines "
        "was never measured, so these needs are not checked",
        f"check in a real root of the release: `elfship check {info.path} --root DIR`",
        library=library,
        versions=versions,
    )


def _library_findings(info: ElfInfo, target: Target, presence: Mapping[str, bool | None]) -> list[Finding]:
    findings = []
    for soname in info.needed:
        present = presence[soname]
        if present:
            continue
        install = target.install_command(soname)
        if present is False:
            findings.append(_not_in_base(info, target, soname, install))
        else:
            findings.append(_unverified(info, target, soname, install))
    return findings


def _not_in_base(info: ElfInfo, target: Target, soname: str, install: str | None) -> Finding:
    package = target.package_for(soname)
    if target.package_index is not None and package is None:
        where = f"is not in {target.display_name}'s base system, and no package of it ships it"
    else:
        where = f"is not in {target.display_name}'s base system"
        if install:
            where += f" (install: {install})"
    return Finding.make(
        LIBRARY_NOT_IN_BASE,
        Severity.ERROR,
        f"{soname} {where}",
        fixes.missing_library(info.path, soname, install),
        library=soname,
        package=package,
        install=install,
    )


def _unverified(info: ElfInfo, target: Target, soname: str, install: str | None) -> Finding:
    hint = target.package_hint(soname)
    known = f"; on {hint[1]} it is in package {hint[0]}" if hint else ""
    how = f" (install: {install})" if install else ""
    return Finding.make(
        LIBRARY_UNVERIFIED,
        Severity.UNKNOWN,
        f"{soname}: not known whether {target.display_name}'s base system ships it{how}{known}",
        f"if your servers have it, say so: `--assume-present {soname}`; or "
        + fixes.missing_library(info.path, soname, install),
        library=soname,
        install=install,
        package_hint=list(hint) if hint else None,
    )
