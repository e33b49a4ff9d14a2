"""Check a program against a named release (debian:10, rhel:8, alpine:3.19) from packaged facts."""

from __future__ import annotations

from elfship.check import fixes
from elfship.check.model import (
    LIBRARY_NOT_IN_BASE,
    LIBRARY_UNVERIFIED,
    CheckResult,
    Finding,
    Severity,
)
from elfship.check.program import STATIC_KINDS, program_findings
from elfship.check.versions import SymbolTable, missing_version_findings
from elfship.elf import ElfInfo, read_version_symbols
from elfship.targets import Target


def check_info(info: ElfInfo, target: Target, symbols: SymbolTable | None = None) -> CheckResult:
    """Will `info` start on `target`? Symbols (the culprits) are read only when a version is missing."""
    findings = program_findings(info, target)
    if info.kind not in STATIC_KINDS and not _libc_mismatch(findings):
        findings.extend(_version_findings(info, target, symbols))
        findings.extend(_library_findings(info, target))
    return CheckResult(info.path, target.name, tuple(findings))


def _libc_mismatch(findings: list[Finding]) -> bool:
    return any(f.kind in ("libc-mismatch", "wrong-architecture") for f in findings)


def _version_findings(info: ElfInfo, target: Target, symbols: SymbolTable | None) -> list[Finding]:
    findings: list[Finding] = []
    for need in info.version_needs:
        missing = [v for v in need.versions if target.provides_version(need.library, v) is False]
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
                offered=lambda namespace: _offered(target, namespace),
                glibc_fix=fixes.glibc_too_new(info.path, target.name, target.libc_version),
            )
        )
    return findings


def _offered(target: Target, namespace: str) -> str:
    if namespace == "GLIBC" and target.libc == "glibc":
        return f"{target.display_name} has glibc {target.libc_version}"
    highest = target.highest_node(namespace)
    if highest is None:
        return f"{target.display_name} defines no {namespace} version"
    return f"{target.display_name} offers up to {namespace}_{highest}"


def _library_findings(info: ElfInfo, target: Target) -> list[Finding]:
    findings = []
    for soname in info.needed:
        if soname in fixes.GLIBC_SONAMES or (soname in fixes.GCC_RUNTIME_SONAMES and target.libc == "glibc"):
            continue  # part of every glibc system (the libstdc++ version check covers the C++ runtime)
        shipped = target.ships_soname(soname)
        if shipped:
            continue
        install = target.install_command(soname)
        if shipped is False:
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
        Severity.WARNING,
        f"{soname}: not known whether {target.display_name}'s base system ships it{how}{known}",
        fixes.missing_library(info.path, soname, install),
        library=soname,
        install=install,
        package_hint=list(hint) if hint else None,
    )
