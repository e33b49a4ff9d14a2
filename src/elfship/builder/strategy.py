"""The ways elfship can build a binary that runs elsewhere, and how `auto` picks one on this machine."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from elfship.abi import version_key
from elfship.builder.toolchain import Toolchain, static_library_available
from elfship.errors import ToolMissingError, UsageError
from elfship.record import record

SUPPORTED_ARCHES = ("x86_64", "aarch64")


class Strategy(str, Enum):
    AUTO = "auto"
    MUSL = "musl"  # fully static, musl libc: runs on any Linux kernel of the arch
    GLIBC_STATIC = "glibc-static"  # fully static, glibc linked in (NSS still loads the target's libnss_*)
    GLIBC_PINNED = "glibc-pinned"  # dynamic, but linked against the oldest glibc every target has (zig)


@record
class TargetLibc:
    """What build needs to know of one `--for` target (from elfship.targets)."""

    name: str
    libc: str  # "glibc" | "musl"
    libc_version: str | None


@record
class StrategyChoice:
    strategy: Strategy
    why: str
    glibc_pin: str | None = None  # glibc-pinned only: the newest glibc every target has


def rust_triple(strategy: Strategy, arch: str) -> str:
    return f"{arch}-unknown-linux-{'musl' if strategy is Strategy.MUSL else 'gnu'}"


def glibc_pin(targets: Sequence[TargetLibc]) -> str | None:
    """The oldest glibc among the targets: the newest version a binary may need and still run on all."""
    versions = [t.libc_version for t in targets if t.libc == "glibc" and t.libc_version]
    return min(versions, key=version_key) if versions else None


def std_missing_error(triple: str) -> ToolMissingError:
    # musl's std can be built from source (a distribution's Rust has no rustup): say so first.
    build_std = "add --build-std to build it from source, or " if triple.endswith("-musl") else ""
    return ToolMissingError(
        f"the Rust standard library for {triple} is not installed",
        fix=f"{build_std}rustup target add {triple}",
    )


def choose_strategy(
    requested: Strategy,
    targets: Sequence[TargetLibc],
    toolchain: Toolchain,
    arch: str,
    *,
    build_std: bool = False,
) -> StrategyChoice:
    """Validate an explicit strategy, or pick the first that can work here (musl, glibc-static, glibc-pinned).

    build_std: musl's std is built from source (--build-std), so it need not be installed; auto then means musl.
    """
    if arch not in SUPPORTED_ARCHES:
        raise UsageError(
            f"unsupported architecture {arch!r}", fix=f"use one of: {', '.join(SUPPORTED_ARCHES)}"
        )
    if build_std:
        return _build_std_choice(requested, targets, toolchain, arch)
    if requested is Strategy.AUTO:
        return _auto(targets, toolchain, arch)
    problem = _why_not(requested, targets, toolchain, arch)
    if problem is not None:
        raise problem
    pin = glibc_pin(targets) if requested is Strategy.GLIBC_PINNED else None
    return StrategyChoice(requested, "asked for with --strategy", pin)


def _build_std_choice(
    requested: Strategy, targets: Sequence[TargetLibc], toolchain: Toolchain, arch: str
) -> StrategyChoice:
    if requested is Strategy.GLIBC_PINNED:  # e.g. aarch64, whose gnu std is not installed: zig links
        problem = _glibc_pinned_problem(targets, toolchain)
        if problem is not None:
            raise problem
        why = "asked for with --strategy; std built from source (--build-std), linked by zig"
        return StrategyChoice(requested, why, glibc_pin(targets))
    if requested not in (Strategy.MUSL, Strategy.AUTO):
        raise UsageError(
            f"--build-std is for --strategy musl or glibc-pinned, not {requested.value}",
            fix="drop --build-std, or use --strategy musl",
        )
    if arch not in toolchain.musl_gcc and toolchain.zig is None:  # zig links musl for any arch
        raise ToolMissingError(
            f"--build-std links with musl-gcc or zig, and there is no musl-gcc for {arch}",
            fix="apt-get install musl-tools" if arch == "x86_64" else "pip install ziglang",
        )
    why = "musl std built from source (--build-std): a fully static binary runs on any Linux of this architecture"
    return StrategyChoice(
        Strategy.MUSL, why if requested is Strategy.AUTO else "asked for with --strategy; " + why
    )


def _auto(targets: Sequence[TargetLibc], toolchain: Toolchain, arch: str) -> StrategyChoice:
    reasons: list[str] = []
    for candidate in (Strategy.MUSL, Strategy.GLIBC_STATIC, Strategy.GLIBC_PINNED):
        problem = _why_not(candidate, targets, toolchain, arch)
        if problem is None:
            why = _why_chosen(candidate, targets)
            if reasons:
                why += " (" + "; ".join(reasons) + ")"
            pin = glibc_pin(targets) if candidate is Strategy.GLIBC_PINNED else None
            return StrategyChoice(candidate, why, pin)
        reasons.append(f"not {candidate.value}: {problem.one_line()}")
    raise ToolMissingError(
        "no strategy can build here: " + "; ".join(reasons),
        fix=f"rustup target add {rust_triple(Strategy.MUSL, arch)}, or pip install ziglang",
    )


def _why_chosen(strategy: Strategy, targets: Sequence[TargetLibc]) -> str:
    if strategy is Strategy.MUSL:
        return "musl std installed: a fully static binary runs on any Linux of this architecture"
    if strategy is Strategy.GLIBC_STATIC:
        return "glibc static libraries present: a fully static binary needs nothing from the target"
    names = ", ".join(t.name for t in targets)
    return f"zig links against glibc {glibc_pin(targets)}, the oldest of {names}"


def _why_not(
    strategy: Strategy, targets: Sequence[TargetLibc], toolchain: Toolchain, arch: str
) -> ToolMissingError | UsageError | None:
    triple = rust_triple(strategy, arch)
    if not toolchain.std_installed(triple):
        return std_missing_error(triple)
    if strategy is Strategy.MUSL:
        if arch not in toolchain.musl_gcc and toolchain.zig is None:
            return ToolMissingError(
                "no C compiler for musl (musl-gcc or zig) for -sys crates",
                fix="apt-get install musl-tools, or pip install ziglang",
            )
        return None
    if strategy is Strategy.GLIBC_STATIC:
        return _glibc_static_problem(toolchain, arch)
    return _glibc_pinned_problem(targets, toolchain)


def _glibc_static_problem(toolchain: Toolchain, arch: str) -> ToolMissingError | UsageError | None:
    if arch != toolchain.host_arch:
        return UsageError(f"glibc-static builds for this machine's architecture ({toolchain.host_arch}) only")
    if not static_library_available(toolchain.host_cc, "c"):
        return ToolMissingError(
            "glibc's static libraries (libc.a) are not installed",
            fix="apt-get install libc6-dev (Fedora: glibc-static)",
        )
    return None


def _glibc_pinned_problem(
    targets: Sequence[TargetLibc], toolchain: Toolchain
) -> ToolMissingError | UsageError | None:
    if not targets:
        return UsageError("glibc-pinned needs at least one --for target to know which glibc to pin")
    musl = [t.name for t in targets if t.libc != "glibc"]
    if musl:
        return UsageError(
            f"glibc-pinned cannot run on {', '.join(musl)} (no glibc there)", fix="use --strategy musl"
        )
    if toolchain.zig is None:
        return ToolMissingError("zig not found (glibc-pinned links with zig)", fix="pip install ziglang")
    return None
