"""After cargo: check each binary against every `--for` target (the check engine) and against the strategy's own
promises, then deliver it (or, when it would not run somewhere, not).

Every build does all of this, a no-op build included: the binary is read and checked each time, never trusted
from a previous run. The pipeline imports this module once rustc and `cargo metadata` are running, so loading
the check engine overlaps them instead of adding to the build's time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

# inventory() names every crate by its package URL: packageurl (with the dataclasses module under it, ~8 ms)
# loads with this module, while cargo metadata runs, rather than on first use after cargo.
import packageurl  # noqa: F401

from elfship.abi import version_key
from elfship.builder.nss import nss_functions
from elfship.builder.openssl import ca_directory_warning
from elfship.builder.output import install
from elfship.builder.plan import BuildPlan
from elfship.builder.strategy import Strategy
from elfship.builder.verify import ArtifactResult, TargetVerdict
from elfship.check.model import EMBEDDED, GLIBC_ABOVE_PIN, NOT_STATIC, STATIC_NSS, Finding, Severity
from elfship.check.named import check_info
from elfship.elf import ElfInfo, read_elf, read_version_symbols
from elfship.record import replace
from elfship.report.sbom_text import summary_line
from elfship.sbom import inventory
from elfship.targets import Target


def finish(
    cargo_path: Path, plan: BuildPlan, targets: Sequence[Target], output_dir: Path, strip_tool: str | None
) -> ArtifactResult:
    return deliver(check(cargo_path, plan, targets), output_dir, strip_tool)


def check(cargo_path: Path, plan: BuildPlan, targets: Sequence[Target]) -> ArtifactResult:
    """The binary read and checked, nothing delivered yet (path None)."""
    info = read_elf(os.fspath(cargo_path))  # read once: the verdicts and the pin check share it
    verdicts = tuple(_verdict(info, target) for target in targets)
    findings = own_findings(cargo_path, plan, info)
    size = cargo_path.stat().st_size
    return ArtifactResult(cargo_path.name, cargo_path, None, size, None, verdicts, findings)


def deliver(checked: ArtifactResult, output_dir: Path, strip_tool: str | None) -> ArtifactResult:
    """A checked binary put in output_dir, unless it would not run where it is going."""
    if not checked.ok:
        return checked
    destination = output_dir / checked.name
    final_size = install(checked.cargo_path, destination, strip_tool=strip_tool)
    stripped = final_size if strip_tool else None
    return replace(checked, path=destination, size_after_strip=stripped)


def verify(path: str | os.PathLike[str], targets: Sequence[Target]) -> tuple[TargetVerdict, ...]:
    """The one place build asks whether its output runs on each target."""
    info = read_elf(os.fspath(path))
    return tuple(_verdict(info, target) for target in targets)


def _verdict(info: ElfInfo, target: Target) -> TargetVerdict:
    result = check_info(info, target)
    return TargetVerdict(result.target, result.verdict, result.findings)


def own_findings(path: Path, plan: BuildPlan, info: ElfInfo | None = None) -> tuple[Finding, ...]:
    """What the strategy promised beyond "runs on the targets", and what the binary carries."""
    info = read_elf(os.fspath(path)) if info is None else info
    findings: list[Finding] = _embedded(path, plan)
    if plan.strategy is Strategy.GLIBC_PINNED and plan.glibc_pin:
        above = glibc_within_pin(path, plan.glibc_pin, info)
        if above is not None:
            findings.append(above)
    findings += ca_directory_warning(path)
    if plan.strategy is Strategy.MUSL:
        findings += not_fully_static(path, info)
    if plan.strategy is Strategy.GLIBC_STATIC:
        functions = nss_functions(path)
        if functions:
            findings.append(
                Finding.make(
                    STATIC_NSS,
                    Severity.WARNING,
                    f"uses NSS ({', '.join(functions)}): static glibc loads the target's libnss_* at run time, "
                    "which must be the same glibc version as this build's; name lookups may fail elsewhere",
                    "use --strategy musl, or glibc-pinned for the target's own glibc",
                )
            )
    return tuple(findings)


def _embedded(path: Path, plan: BuildPlan) -> list[Finding]:
    """What the binary carries, said after every static build (and any build that embeds a C library)."""
    inv = inventory(path, libraries=False, digest=False)  # the one-line summary needs no SHA-256
    if plan.strategy is Strategy.GLIBC_PINNED and not inv.embedded_c_libraries:
        return []
    yours = ": their CVEs are yours now" if inv.embedded_c_libraries else ""
    return [
        Finding.make(
            EMBEDDED,
            Severity.INFO,
            summary_line(inv) + yours,
            f"`elfship audit {path.name} --db ADVISORY-DB`; `--sbom` writes it as CycloneDX",
        )
    ]


def glibc_within_pin(path: str | os.PathLike[str], pin: str, info: ElfInfo | None = None) -> Finding | None:
    """glibc-pinned's own promise: the output's highest GLIBC need is no newer than the pin."""
    info = read_elf(path) if info is None else info
    needed = info.libc.min_version
    if needed and version_key(needed) > version_key(pin):
        culprits = _culprits(path, needed)
        return Finding.make(
            GLIBC_ABOVE_PIN,
            Severity.ERROR,
            f"needs GLIBC_{needed}, above the pin {pin}" + (f" ({culprits})" if culprits else ""),
            "a prebuilt static library or object was compiled against a newer glibc: build it from source "
            "(the -sys crate's bundled/vendored feature)",
        )
    return None


def not_fully_static(path: str | os.PathLike[str], info: ElfInfo | None = None) -> tuple[Finding, ...]:
    """musl's promise: no loader and no shared library, so the binary runs on any Linux of its arch
    (what `ldd` reports as "not a dynamic executable")."""
    info = read_elf(path) if info is None else info
    if info.interpreter is None and not info.needed:
        return ()
    parts = ([f"INTERP {info.interpreter}"] if info.interpreter else []) + [
        f"NEEDED {n}" for n in info.needed
    ]
    return (
        Finding.make(
            NOT_STATIC,
            Severity.ERROR,
            f"not fully static: {', '.join(parts)}",
            "link with +crt-static (elfship sets it; check RUSTFLAGS and .cargo/config.toml for -crt-static)",
        ),
    )


def _culprits(path: str | os.PathLike[str], version: str) -> str:
    names: list[str] = []
    for versions in read_version_symbols(path).values():
        names += versions.get(f"GLIBC_{version}", ())
    return ", ".join(sorted(set(names))[:5])
