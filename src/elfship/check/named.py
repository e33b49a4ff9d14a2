"""Check a program against a named release (debian:10, rhel:8, alpine:3.19) from packaged facts.

Every needed library is present, absent or of unknown presence on the release; every version need is
provided, missing or unknown. Unknown is never a silent pass: an unknown library makes the verdict `unknown`,
an unknown version node of a present library is a warning naming the gap.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from elfship.abi import GLIBC_LIBRARIES, MUSL_RESERVED, version_key
from elfship.check import fixes
from elfship.check.model import (
    KERNEL_TOO_OLD,
    LIBC_MISMATCH,
    LIBRARY_NOT_IN_BASE,
    LIBRARY_UNVERIFIED,
    SHIPPED_ALONG,
    VERSION_UNVERIFIED,
    CheckResult,
    Finding,
    Severity,
)
from elfship.check.program import STATIC_KINDS, program_findings
from elfship.check.shipped import Shipped, offered_by_shipped, shipped_libraries
from elfship.check.versions import missing_version_findings
from elfship.elf import ElfInfo, VersionSymbols, read_version_symbols
from elfship.record import record
from elfship.targets.model import Target

# musl's C library under the names a musl program needs it by: part of every musl system.
MUSL_LIBC_PREFIXES = ("libc.musl-", "ld-musl-")


@record
class _Context:
    target: Target
    program: str  # the path of the program checked (the ways out name it)
    assume_present: frozenset[str]
    shipped: Mapping[str, Shipped]  # what travels with the program


def check_info(
    info: ElfInfo,
    target: Target,
    symbols: VersionSymbols | None = None,
    assume_present: frozenset[str] = frozenset(),
    shipped: Mapping[str, Shipped] | None = None,
) -> CheckResult:
    """Will `info` start on `target`? Symbols (the culprits) are read only when a version is missing.

    Libraries the program reaches through $ORIGIN-relative RPATH/RUNPATH travel with it: they count as
    present, and their own needs are checked against the target too. `assume_present`: sonames the user
    states their servers have (`--assume-present`). `shipped`: what travels along, when the payload declares
    it (a bundle's lib/); by default it is found through the program's $ORIGIN entries.
    """
    findings = program_findings(info, target)
    if shipped is not None and "libc.so.6" in shipped:
        # A bundle brings glibc and its loader whole: the target's own C library plays no part.
        findings = [f for f in findings if f.kind != LIBC_MISMATCH]
    if info.kind not in STATIC_KINDS and not _libc_mismatch(findings):
        travelling = shipped_libraries(info) if shipped is None else shipped
        context = _Context(target, info.path, assume_present, travelling)
        findings.extend(_object_findings(info, None, context, symbols))
        for library in context.shipped.values():
            findings.extend(_object_findings(library.info, library.soname, context, None))
        if context.shipped:
            findings.append(_shipped_along(context.shipped))
            findings.extend(_shipped_glibc_findings(context))
    return CheckResult(info.path, target.name, tuple(findings), arch=target.arch)


def _object_findings(
    obj: ElfInfo, needer: str | None, context: _Context, symbols: VersionSymbols | None
) -> list[Finding]:
    """The findings of one object that must start: the program (needer None) or a library shipped along."""
    presence = {
        soname: True
        if soname in context.shipped
        else library_presence(context.target, soname, context.assume_present)
        for soname in obj.needed
    }
    return [
        *_version_findings(obj, needer, context, symbols, presence),
        *_library_findings(obj, needer, context, presence),
    ]


def _shipped_glibc_findings(context: _Context) -> list[Finding]:
    """A glibc that travels along still runs on the target's kernel: its ABI tag says from which on."""
    libc = context.shipped.get("libc.so.6")
    kernel, floor = context.target.kernel, libc.info.min_kernel if libc else None
    if not (kernel and floor) or version_key(floor) <= version_key(kernel):
        return []
    return [
        Finding.make(
            KERNEL_TOO_OLD,
            Severity.ERROR,
            f"the glibc shipped along ({libc.path if libc else ''}) needs Linux >= {floor}; "
            f"{context.target.display_name} ships Linux {kernel}",
            "ship an older glibc (bundle on an older build host), or build static with musl",
            min_kernel=floor,
            target_kernel=kernel,
        )
    ]


def _shipped_along(shipped: Mapping[str, Shipped]) -> Finding:
    names = ", ".join(f"{s.soname} ({s.path})" for s in shipped.values())
    return Finding.make(
        SHIPPED_ALONG,
        Severity.INFO,
        f"taken as shipped along (reached through $ORIGIN, found beside the program): {names}",
        None,
        libraries=[{"soname": s.soname, "path": s.path, "needed_by": s.needed_by} for s in shipped.values()],
    )


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
        if soname in GLIBC_LIBRARIES:
            return True
        if soname == "libgcc_s.so.1" and target.version_nodes.get("GCC"):
            return True
    return None


def _libc_mismatch(findings: list[Finding]) -> bool:
    return any(f.kind in ("libc-mismatch", "wrong-architecture") for f in findings)


def _version_findings(
    obj: ElfInfo,
    needer: str | None,
    context: _Context,
    symbols: VersionSymbols | None,
    presence: Mapping[str, bool | None],
) -> list[Finding]:
    findings: list[Finding] = []
    target = context.target
    for need in obj.version_needs:
        shipped = context.shipped.get(need.library)
        if shipped is not None:  # judged against the very file that travels along, as ld.so would
            defined = set(shipped.info.version_definitions)
            answers: dict[str, bool | None] = {v: v in defined for v in need.versions}
            offered = functools.partial(offered_by_shipped, shipped)
        else:
            answers = {v: target.provides_version(need.library, v) for v in need.versions}
            offered = functools.partial(_offered, target, need.library)
        missing = [v for v, provided in answers.items() if provided is False]
        unknown = [v for v, provided in answers.items() if provided is None]
        # A library known to be absent already fails, one of unknown presence is already `unknown`: only
        # a present library's unknown nodes are a gap left to name.
        if unknown and presence.get(need.library):
            findings.append(_version_unverified(context, needer, need.library, unknown))
        if not missing:
            continue
        if symbols is None:
            symbols = read_version_symbols(obj.path)
        findings.extend(
            missing_version_findings(
                program_path=context.program,
                needer=needer,
                library=need.library,
                missing=missing,
                symbols=symbols,
                offered=offered,
                glibc_fix=fixes.glibc_too_new(context.program, target.name, target.libc_version),
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


def _version_unverified(context: _Context, needer: str | None, library: str, versions: list[str]) -> Finding:
    target = context.target
    return Finding.make(
        VERSION_UNVERIFIED,
        Severity.WARNING,
        f"{library}{_by(needer)} needs {', '.join(versions)}: which versions {target.display_name}'s {library} "
        "defines was never measured, so these needs are not checked",
        f"check in a real root of the release: `elfship check {context.program} --root DIR`",
        library=library,
        needed_by=needer,
        versions=versions,
    )


def _by(needer: str | None) -> str:
    return f" (needed by {needer}, shipped along)" if needer else ""


def _library_findings(
    obj: ElfInfo, needer: str | None, context: _Context, presence: Mapping[str, bool | None]
) -> list[Finding]:
    findings = []
    for soname in obj.needed:
        present = presence[soname]
        if present:
            continue
        install = context.target.install_command(soname)
        if present is False:
            findings.append(_not_in_base(context, needer, soname, install))
        else:
            findings.append(_unverified(context, needer, soname, install))
    return findings


def _not_in_base(context: _Context, needer: str | None, soname: str, install: str | None) -> Finding:
    target = context.target
    package = target.package_for(soname)
    base = f"{target.display_name}'s base system"
    if target.base_basis:  # say how the base is known when it was not measured in a root
        base = f"the base image of {target.display_name}, {target.base_basis}"
    if target.package_index is not None and package is None:
        where = f"is not in {base}, and no package of it ships it"
    else:
        where = f"is not in {base}"
        if install:
            where += f" (install: {install})"
        elif hint := target.package_hint(soname):
            where += f" (on {hint[1]} it is in package {hint[0]})"
    return Finding.make(
        LIBRARY_NOT_IN_BASE,
        Severity.ERROR,
        f"{soname}{_by(needer)} {where}",
        fixes.missing_library(context.program, soname, install),
        library=soname,
        needed_by=needer,
        package=package,
        install=install,
    )


def _unverified(context: _Context, needer: str | None, soname: str, install: str | None) -> Finding:
    target = context.target
    hint = target.package_hint(soname)
    known = f"; on {hint[1]} it is in package {hint[0]}" if hint else ""
    how = f" (install: {install})" if install else ""
    return Finding.make(
        LIBRARY_UNVERIFIED,
        Severity.UNKNOWN,
        f"{soname}{_by(needer)}: not known whether {target.display_name}'s base system ships it{how}{known}",
        f"if your servers have it, say so: `--assume-present {soname}`; or "
        + fixes.missing_library(context.program, soname, install),
        library=soname,
        needed_by=needer,
        install=install,
        package_hint=list(hint) if hint else None,
    )
