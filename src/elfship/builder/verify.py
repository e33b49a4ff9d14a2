"""The build's verdicts: which targets (`--for`) a build is checked against, and what it found for each.

The checking itself (reading the binary, the check engine) is in deliver.py, loaded while cargo's tools run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from elfship.builder.strategy import TargetLibc
from elfship.check.model import Finding, Severity
from elfship.errors import UsageError
from elfship.record import record
from elfship.targets import Target, get_target, normalise_arch, split_arch


@record
class TargetVerdict:
    target: str
    verdict: str  # "runs" | "fails" | "unknown" (a needed library the target may not ship)
    findings: tuple[Finding, ...]


@record
class ArtifactResult:
    name: str
    cargo_path: Path
    path: Path | None  # where it was installed; None when verification failed (nothing delivered)
    size: int  # as cargo built it
    size_after_strip: int | None
    verdicts: tuple[TargetVerdict, ...]
    findings: tuple[Finding, ...]  # elfship's own: pin exceeded, NSS use in a static glibc binary

    @property
    def ok(self) -> bool:
        # `unknown` (a library the target may not ship) is shown, not a failure: the user named the target.
        failed = any(v.verdict == "fails" for v in self.verdicts)
        return not failed and not any(f.severity is Severity.ERROR for f in self.findings)


def resolve_targets(names: Sequence[str], arch: str | None = None) -> tuple[Target, ...]:
    """`--for` names -> Targets (an unknown name raises a one-line UsageError naming close matches).
    A name may carry its architecture (debian:12/aarch64); else --arch's, else x86_64."""
    targets = []
    for spec in names:
        name, own = split_arch(spec)
        if own and arch and own != normalise_arch(arch):
            raise UsageError(f"--for {spec} is for {own}, but --arch says {arch}", fix="build once per arch")
        chosen = own or (normalise_arch(arch) if arch else None)
        targets.append(get_target(name, arch=chosen) if chosen else get_target(name))
    return tuple(targets)


def target_libc(target: Target) -> TargetLibc:
    return TargetLibc(name=target.name, libc=target.libc, libc_version=target.libc_version or None)
