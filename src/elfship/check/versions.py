"""Group missing version nodes into one finding per (needer, library, namespace), naming the culprits."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from elfship.check import fixes
from elfship.check.model import PRIVATE_VERSION, VERSION_TOO_NEW, Finding, Severity
from elfship.targets import is_private_node, split_version_node, version_key

SymbolTable = Mapping[str, Mapping[str, tuple[str, ...]]]
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
    symbols: SymbolTable,
    offered: Callable[[str], str],  # namespace -> "debian:10 has glibc 2.28"
    evidence: Mapping[str, object] | None = None,
) -> list[Finding]:
    by_namespace: dict[str, list[str]] = {}
    for version in missing:
        by_namespace.setdefault(split_version_node(version)[0], []).append(version)
    findings = []
    for namespace, versions in sorted(by_namespace.items()):
        versions.sort(key=lambda v: version_key(split_version_node(v)[1]), reverse=True)
        culprits = {v: list(symbols.get(library, {}).get(v, ())) for v in versions}
        findings.append(
            _finding(program_path, needer, library, namespace, versions, culprits, offered, evidence)
        )
    return findings


def _finding(
    program_path: str,
    needer: str | None,
    library: str,
    namespace: str,
    versions: list[str],
    culprits: dict[str, list[str]],
    offered: Callable[[str], str],
    evidence: Mapping[str, object] | None,
) -> Finding:
    who = f"{needer} (a library it loads) needs" if needer else "needs"
    parts = []
    for version in versions:
        names = culprits[version]
        parts.append(f"{version} for {symbols_text(names)}" if names else version)
    private = all(is_private_node(v) for v in versions)
    message = f"{library} {who} " + "; ".join(parts) + f"; {offered(namespace)}"
    if private:
        fix = fixes.private_glibc(program_path)
    elif namespace == "GLIBC":
        fix = None  # filled in by the caller, who knows the glibc to pin to
    elif namespace in ("GLIBCXX", "CXXABI", "GCC"):
        fix = fixes.cxx_too_new(program_path)
    else:
        fix = fixes.other_version_too_new(program_path, library)
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
