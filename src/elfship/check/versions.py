"""Group missing version nodes into one finding per (needer, library, namespace), naming the culprits."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from elfship.abi import is_private_node, split_version_node, version_key
from elfship.check import fixes
from elfship.check.model import PRIVATE_VERSION, VERSION_TOO_NEW, Finding, Severity
from elfship.elf.model import VersionSymbols

MAX_NAMED_SYMBOLS = 8


def symbols_text(symbols: list[str]) -> str:
    shown = ", ".join(symbols[:MAX_NAMED_SYMBOLS])
    extra = len(symbols) - MAX_NAMED_SYMBOLS
    return shown + (f" (+{extra} more)" if extra > 0 else "")


def missing_version_findings(
    *,
    program_path: str,
    needer: str | None,  # None = the program itself; else the soname of the library that needs it
    library: str,
    missing: list[str],
    symbols: VersionSymbols,
    offered: Callable[[str], str],  # namespace -> "debian:10 has glibc 2.28"
    glibc_fix: str,  # the way out for a too-new GLIBC node (names the glibc to pin to)
    evidence: Mapping[str, object] | None = None,
) -> list[Finding]:
    # One finding per namespace, and private nodes (GLIBC_PRIVATE) apart: they are a different problem
    # (bound to one exact build) with a different fix, even when missing together with public ones.
    by_namespace: dict[tuple[str, bool], list[str]] = {}
    for version in missing:
        key = (split_version_node(version)[0], is_private_node(version))
        by_namespace.setdefault(key, []).append(version)
    findings = []
    for (namespace, _private), versions in sorted(by_namespace.items()):
        versions.sort(key=lambda v: version_key(split_version_node(v)[1]), reverse=True)
        culprits = {v: list(symbols.get(library, {}).get(v, ())) for v in versions}
        message = _message(needer, library, versions, culprits, offered(namespace))
        fix = _fix(program_path, library, namespace, versions, glibc_fix)
        findings.append(_finding(needer, library, namespace, versions, culprits, message, fix, evidence))
    return findings


def _message(
    needer: str | None, library: str, versions: list[str], culprits: dict[str, list[str]], offered: str
) -> str:
    who = f"{needer} (a library it loads) needs" if needer else "needs"
    parts = [f"{v} for {symbols_text(culprits[v])}" if culprits[v] else v for v in versions]
    return f"{library} {who} " + "; ".join(parts) + f"; {offered}"


def _fix(program_path: str, library: str, namespace: str, versions: list[str], glibc_fix: str) -> str:
    if all(is_private_node(v) for v in versions):
        return fixes.private_glibc(program_path)
    if namespace == "GLIBC":
        return glibc_fix
    if namespace in ("GLIBCXX", "CXXABI", "GCC"):
        return fixes.cxx_too_new(program_path)
    return fixes.other_version_too_new(program_path, library)


def _finding(
    needer: str | None,
    library: str,
    namespace: str,
    versions: list[str],
    culprits: dict[str, list[str]],
    message: str,
    fix: str,
    evidence: Mapping[str, object] | None,
) -> Finding:
    private = all(is_private_node(v) for v in versions)
    return Finding.make(
        PRIVATE_VERSION if private else VERSION_TOO_NEW,
        Severity.ERROR,
        message,
        fix,
        library=library,
        needed_by=needer,
        namespace=namespace,
        versions=versions,
        symbols=culprits,
        **dict(evidence or {}),
    )
