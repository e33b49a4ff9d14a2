"""Every build is checked against its `--for` targets by the check engine, behind this one module.

Until elfship.check exists (it is written at the same time as build), `_engine` falls back to a minimal check
from the ELF facts: static binaries run everywhere; dynamic ones need a glibc target at least as new as their
highest GLIBC_ version and, in the fallback, nothing outside glibc's own libraries.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elfship.build.strategy import TargetLibc
from elfship.elf import ElfInfo, Kind, read_elf

# Sonames every glibc target has (the fallback's idea of "the base system"; the real engine knows better).
GLIBC_BASE = frozenset(
    {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "libgcc_s.so.1"}
    | {"ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libresolv.so.2"}
)


@dataclass(frozen=True)
class VerifyFinding:
    kind: str
    severity: str  # error | warning | info
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class TargetVerdict:
    target: str
    verdict: str  # "runs" | "fails"
    findings: tuple[VerifyFinding, ...]
    engine: str  # "check" (elfship.check) or "fallback"


def resolve_targets(names: Sequence[str]) -> tuple[Any, ...]:
    """`--for` names -> elfship.targets.Target objects (unknown names raise a one-line ElfshipError)."""
    from elfship.targets import get_target

    return tuple(get_target(name) for name in names)


def target_libc(target: Any) -> TargetLibc:
    return TargetLibc(name=target.name, libc=target.libc, libc_version=target.libc_version or None)


def verify(path: str | os.PathLike[str], targets: Sequence[Any]) -> tuple[TargetVerdict, ...]:
    """The one place build asks whether its output runs on each target."""
    name = os.fspath(path)
    try:
        from elfship.check import check_path
    except ImportError:
        info = read_elf(name)
        return tuple(_fallback(info, target_libc(target)) for target in targets)
    return tuple(_from_check(check_path(name, target)) for target in targets)


def _from_check(result: Any) -> TargetVerdict:
    findings = tuple(
        VerifyFinding(f.kind, str(getattr(f.severity, "value", f.severity)), f.message, f.fix)
        for f in result.findings
    )
    return TargetVerdict(str(result.target), str(result.verdict), findings, "check")


def _fallback(info: ElfInfo, target: TargetLibc) -> TargetVerdict:
    findings = list(_fallback_findings(info, target))
    verdict = "fails" if any(f.severity == "error" for f in findings) else "runs"
    return TargetVerdict(target.name, verdict, tuple(findings), "fallback")


def _fallback_findings(info: ElfInfo, target: TargetLibc) -> list[VerifyFinding]:
    if info.kind in (Kind.STATIC, Kind.STATIC_PIE):
        return []
    findings = []
    family = info.libc.family.value
    if family in ("glibc", "musl") and family != target.libc:
        findings.append(
            VerifyFinding("libc-family", "error", f"built for {family}, {target.name} has {target.libc}")
        )
    needed = info.libc.min_version
    if needed and target.libc_version and _key(needed) > _key(target.libc_version):
        findings.append(
            VerifyFinding(
                "glibc-too-new",
                "error",
                f"needs GLIBC_{needed}, {target.name} has glibc {target.libc_version}",
                "rebuild with --strategy glibc-pinned or glibc-static",
            )
        )
    for soname in info.needed:
        if soname not in GLIBC_BASE:
            findings.append(
                VerifyFinding(
                    "library-missing",
                    "error",
                    f"needs {soname}, which a base {target.name} does not have",
                    "link it statically (enable the -sys crate's bundled/vendored feature)",
                )
            )
    return findings


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def glibc_within_pin(path: str | os.PathLike[str], pin: str) -> VerifyFinding | None:
    """glibc-pinned's own promise: the output's highest GLIBC need is no newer than the pin."""
    info = read_elf(path)
    needed = info.libc.min_version
    if needed and _key(needed) > _key(pin):
        culprits = _culprits(path, needed)
        return VerifyFinding(
            "glibc-above-pin",
            "error",
            f"needs GLIBC_{needed}, above the pin {pin}" + (f" ({culprits})" if culprits else ""),
            "a prebuilt static library or object was compiled against a newer glibc: build it from source "
            "(the -sys crate's bundled/vendored feature)",
        )
    return None


def _culprits(path: str | os.PathLike[str], version: str) -> str:
    from elfship.elf import read_version_symbols

    names: list[str] = []
    for versions in read_version_symbols(path).values():
        names += versions.get(f"GLIBC_{version}", ())
    return ", ".join(sorted(set(names))[:5])
