"""Findings that depend only on the program and the target's libc and architecture, not on its libraries."""

from __future__ import annotations

from elfship.abi import version_key
from elfship.check import fixes
from elfship.check.model import (
    EMBEDDED_LIBRARIES,
    ISA_LEVEL,
    KERNEL_TOO_OLD,
    LIBC_MISMATCH,
    NOT_A_PROGRAM,
    STATIC,
    STATIC_NSS,
    WRONG_ARCHITECTURE,
    Finding,
    Severity,
)
from elfship.check.runtime import runtime_findings
from elfship.elf.model import ElfInfo, Kind, LibcFamily
from elfship.sbom.runtime_strings import RuntimeStrings, read_runtime_strings
from elfship.targets import Target

ISA_ORDER = {None: 1, "x86-64": 1, "x86-64-v2": 2, "x86-64-v3": 3, "x86-64-v4": 4}
STATIC_KINDS = (Kind.STATIC, Kind.STATIC_PIE)


def program_findings(info: ElfInfo, target: Target, strings: RuntimeStrings | None = None) -> list[Finding]:
    """`strings`: the program's run-time strings when its bytes are not at info.path on this machine (a
    program inside a root: read through the root)."""
    if info.kind in (Kind.OBJECT, Kind.CORE, Kind.OTHER):
        return [
            Finding.make(
                NOT_A_PROGRAM,
                Severity.ERROR,
                f"{info.path} is a {info.kind.value} ELF file, not a program or shared library",
                "check the linked program (e.g. target/release/NAME), not an object file",
            )
        ]
    findings: list[Finding] = []
    if target.arch not in ("unknown", info.machine):
        findings.append(
            Finding.make(
                WRONG_ARCHITECTURE,
                Severity.ERROR,
                f"built for {info.machine}, but the answer asked is for {target.name} on {target.arch}, "
                "whose kernel and loader cannot start it",
                fixes.wrong_architecture(info.machine, target.arch),
                machine=info.machine,
                target_arch=target.arch,
            )
        )
    if info.kind in STATIC_KINDS:
        findings.extend(_static_findings(info, target))
    else:
        findings.extend(_libc_family_findings(info, target))
    findings.extend(_isa_findings(info, target))
    findings.extend(runtime_findings(info, target, strings or read_runtime_strings(info.path)))
    return findings


def _static_findings(info: ElfInfo, target: Target) -> list[Finding]:
    kernel = f" on Linux >= {info.min_kernel}" if info.min_kernel else ""
    libc = info.libc.family.value
    findings = [
        Finding.make(
            STATIC,
            Severity.INFO,
            f"{info.kind.value} ({libc} linked in): needs no loader and no library; runs{kernel}",
            None,
            min_kernel=info.min_kernel,
        )
    ]
    if info.min_kernel and target.kernel and version_key(info.min_kernel) > version_key(target.kernel):
        findings.append(
            Finding.make(
                KERNEL_TOO_OLD,
                Severity.ERROR,
                f"needs Linux >= {info.min_kernel}; {target.display_name} ships Linux {target.kernel}",
                "build with an older kernel floor (glibc's --enable-kernel) or use musl",
                min_kernel=info.min_kernel,
                target_kernel=target.kernel,
            )
        )
    findings.extend(_embedded_findings(info))
    if info.uses_nss:
        findings.append(
            Finding.make(
                STATIC_NSS,
                Severity.WARNING,
                "static glibc with NSS (getaddrinfo, getpwnam, ...): those calls dlopen the build host's "
                "libnss_* modules at run time and fail or misbehave where that glibc differs",
                fixes.STATIC_NSS_FIX,
            )
        )
    return findings


def _embedded_findings(info: ElfInfo) -> list[Finding]:
    """The static cure's price: the distribution no longer patches what is inside (see `elfship audit`)."""
    from elfship.sbom.record import embedded_libraries

    embedded = embedded_libraries(info.path, info.inode)
    if not embedded:
        return []
    names = ", ".join(f"{name} {version or '(version not recorded)'}" for name, version in embedded)
    return [
        Finding.make(
            EMBEDDED_LIBRARIES,
            Severity.INFO,
            f"embeds {names}: their CVEs are yours now (the distribution cannot patch them)",
            f"track them: `elfship sbom {info.path}`, `elfship audit {info.path} --db ADVISORY-DB`",
            embedded=[{"name": name, "version": version} for name, version in embedded],
        )
    ]


def _libc_family_findings(info: ElfInfo, target: Target) -> list[Finding]:
    family = info.libc.family
    if family not in (LibcFamily.GLIBC, LibcFamily.MUSL) or target.libc in ("", "unknown", "none"):
        return []
    if family.value == target.libc:
        return []
    return [
        Finding.make(
            LIBC_MISMATCH,
            Severity.ERROR,
            f"a {family.value}-linked program (interpreter {info.interpreter or 'none'}); "
            f"{target.display_name} is a {target.libc} system",
            fixes.libc_mismatch(family.value, target.libc, info.path),
            binary_libc=family.value,
            target_libc=target.libc,
        )
    ]


def _isa_findings(info: ElfInfo, target: Target) -> list[Finding]:
    needed = ISA_ORDER.get(info.isa_level, 1)
    if needed <= 1:
        return []
    baseline = target.isa_baseline or "x86-64"
    if needed <= ISA_ORDER.get(baseline, 1):
        return []
    return [
        Finding.make(
            ISA_LEVEL,
            Severity.WARNING,
            f"needs a CPU with {info.isa_level}; {target.display_name} supports CPUs down to {baseline}, "
            "and its loader refuses the program on an older CPU",
            "build for the baseline ISA (drop -march / -C target-cpu)",
            isa_level=info.isa_level,
            target_baseline=baseline,
        )
    ]
