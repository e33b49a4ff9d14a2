"""The ways out, worded once: rebuild static, pin glibc, bundle, or install a package."""

from __future__ import annotations

from elfship.syscrates import BY_SONAME


def glibc_too_new(path: str, target_name: str, glibc: str) -> str:
    return (
        f"rebuild against glibc {glibc}: `elfship build --strategy glibc-pinned --for {target_name}` (Rust), "
        f"`zig cc -target x86_64-linux-gnu.{glibc}` (C); or build static (`elfship build --strategy "
        f"glibc-static` or `--strategy musl`); or ship the newer glibc along: `elfship bundle {path}`"
    )


def cxx_too_new(path: str) -> str:
    return (
        "link the C++ runtime statically (`-static-libstdc++ -static-libgcc`), build with the target's "
        f"compiler, or `elfship bundle {path}`"
    )


def other_version_too_new(path: str, library: str) -> str:
    return f"build against the target's {library} (or link it statically), or `elfship bundle {path}`"


def private_glibc(path: str) -> str:
    return (
        "GLIBC_PRIVATE binds to one exact glibc build: link only against public glibc interfaces, build "
        f"static, or `elfship bundle {path}` (bundles glibc whole)"
    )


def missing_library(path: str, soname: str, install: str | None) -> str:
    ways = [f"`{install}`"] if install else []
    crate = BY_SONAME.get(soname)
    ways.append(f"build it in statically ({crate.hint})" if crate else "link it statically")
    ways.append(f"`elfship bundle {path}`")
    return "; or ".join(ways)


def libc_mismatch(binary_libc: str, target_libc: str, path: str) -> str:
    if binary_libc == "musl":
        return (
            "build it static (`elfship build --strategy musl` links musl in with +crt-static), or "
            f"`elfship bundle {path}` (ships the musl loader along)"
        )
    return (
        f"build it static (`elfship build --strategy musl`), or install glibc compatibility on the "
        f"{target_libc} system (Alpine: `apk add gcompat`, partial), or `elfship bundle {path}`"
    )


def wrong_architecture(machine: str, target_arch: str) -> str:
    return f"build for {target_arch} (cargo: `--target {target_arch}-unknown-linux-gnu`), not {machine}"


STATIC_NSS_FIX = (
    "avoid NSS in a static glibc binary (use musl: `elfship build --strategy musl`), or make sure the "
    "target has the same glibc's libnss_* modules; or build glibc-pinned instead of static"
)
