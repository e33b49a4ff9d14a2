"""Every build is checked against its `--for` targets by the check engine (elfship.check), through here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from elfship.abi import version_key
from elfship.builder.strategy import TargetLibc
from elfship.check.model import GLIBC_ABOVE_PIN, NOT_STATIC, Finding, Severity
from elfship.elf import read_elf, read_version_symbols
from elfship.errors import UsageError
from elfship.record import record
from elfship.targets import Target, get_target, normalise_arch, split_arch

if TYPE_CHECKING:
    from elfship.check.model import CheckResult

# The check engine (and the resolver under it) is imported when the first verdict is needed, not at start-up:
# `elfship build` imports it in the background while cargo runs (see prewarm), so a build pays nothing for it.
CHECK_MODULE = "elfship.check.named"


@record
class TargetVerdict:
    target: str
    verdict: str  # "runs" | "fails" | "unknown" (a needed library the target may not ship)
    findings: tuple[Finding, ...]


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


def verify(path: str | os.PathLike[str], targets: Sequence[Target]) -> tuple[TargetVerdict, ...]:
    """The one place build asks whether its output runs on each target."""
    from elfship.check.named import check_info

    info = read_elf(os.fspath(path))
    return tuple(_from_check(check_info(info, target)) for target in targets)


def _from_check(result: CheckResult) -> TargetVerdict:
    return TargetVerdict(result.target, result.verdict, result.findings)


def glibc_within_pin(path: str | os.PathLike[str], pin: str) -> Finding | None:
    """glibc-pinned's own promise: the output's highest GLIBC need is no newer than the pin."""
    info = read_elf(path)
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


def not_fully_static(path: str | os.PathLike[str]) -> tuple[Finding, ...]:
    """musl's promise: no loader and no shared library, so the binary runs on any Linux of its arch
    (what `ldd` reports as "not a dynamic executable")."""
    info = read_elf(path)
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


def prewarm() -> None:
    """Import the check engine on a daemon thread; the later real import waits for it under the import lock."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(CHECK_MODULE,), daemon=True).start()
