"""What the loader of one architecture and one glibc build does differently: its built-in directories,
its glibc-hwcaps subdirectories, the legacy hwcap subdirectories of glibc < 2.37, $LIB and $PLATFORM.

The loader's built-in search path is a string constant in ld.so ("/lib/x86_64-linux-gnu/\\0/usr/lib/...");
we read it (and "release version 2.36") from the loader's bytes, never by running it.
"""

from __future__ import annotations

import os
import re
from functools import cache

from elfship.abi import GLIBC_LOADERS
from elfship.errors import UsageError
from elfship.record import record
from elfship.resolve.rootfs import FileView

TRIPLETS = {
    "x86_64": "x86_64-linux-gnu",
    "i386": "i386-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "arm": "arm-linux-gnueabihf",
    "ppc64le": "powerpc64le-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "mips64el": "mips64el-linux-gnuabi64",
    "loongarch64": "loongarch64-linux-gnu",
}
# AT_PLATFORM as the kernel passes it; it is what $PLATFORM expands to (glibc < 2.37 may say "haswell").
PLATFORMS = {"x86_64": "x86_64", "i386": "i686", "aarch64": "aarch64", "arm": "v7l", "s390x": "z900"}
# glibc-hwcaps subdirectory names per architecture, lowest level first (glibc sysdeps/*/dl-hwcaps-subdirs.c).
HWCAPS_LEVELS: dict[str, tuple[str, ...]] = {
    "x86_64": ("x86-64-v2", "x86-64-v3", "x86-64-v4"),
    "ppc64le": ("power9", "power10"),
    "s390x": ("z13", "z14", "z15", "z16"),
}
BASELINE_NAMES = ("baseline", "x86-64", "x86-64-v1", "v1", "none")
X86_LEVEL_FLAGS = (
    ("x86-64-v2", {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}),
    ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
    ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
)
MUSL_INTERPRETER = re.compile(r"/ld-musl-([A-Za-z0-9_]+)\.so\.1$")
# One directory, then up to seven more. Spelt with a literal "/" first, not as (...){1,8}: the regular
# expression engine then jumps from one "/" to the next instead of trying the group at every byte of the
# loader (13 ms -> 0.07 ms for Debian 12's ld.so).
_SYSTEM_DIR = rb"/(?:usr/)?lib[A-Za-z0-9_./+-]*/\x00"
_SYSTEM_DIRS = re.compile(_SYSTEM_DIR + rb"(?:" + _SYSTEM_DIR + rb"){0,7}")
_RELEASE = re.compile(rb"release version (\d+)\.(\d+)")
_VERSIONED_NAME = re.compile(r"/ld-(\d+)\.(\d+)\.so$")  # glibc < 2.34 installed ld.so as ld-2.31.so
MAX_LOADER_BYTES = 16 << 20


@cache
def _cpu_flags() -> tuple[str, frozenset[str]]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return "", frozenset()
    vendor = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("vendor_id")), "")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    return vendor, frozenset(flags)


def host_isa_level(machine: str) -> str | None:
    """The highest glibc-hwcaps level this CPU supports for MACHINE, or None (baseline, or another CPU)."""
    host = os.uname().machine  # what platform.machine() answers on Linux, without importing platform
    if machine != "x86_64" or host != "x86_64":
        return None
    _vendor, flags = _cpu_flags()
    level = None
    for name, needed in X86_LEVEL_FLAGS:
        if not needed <= flags:
            break
        level = name
    return level


def normalise_isa(isa: str | None, machine: str) -> str | None:
    """Validate --isa for MACHINE; returns the level name, or None for baseline (no glibc-hwcaps)."""
    if isa is None or isa.lower() in BASELINE_NAMES:
        return None
    levels = HWCAPS_LEVELS.get(machine, ())
    if isa not in levels:
        known = ", ".join(levels) or "none"
        raise UsageError(
            f"unknown ISA level {isa!r} for {machine}",
            fix=f"use one of: {known} (or 'baseline')",
        )
    return isa


def hwcaps_subdirs(machine: str, isa: str | None) -> tuple[str, ...]:
    """Active glibc-hwcaps subdirectories, best first: for x86-64-v3 that is (x86-64-v3, x86-64-v2)."""
    levels = HWCAPS_LEVELS.get(machine, ())
    if isa is None or isa not in levels:
        return ()
    return tuple(reversed(levels[: levels.index(isa) + 1]))


@record
class LoaderFacts:
    glibc_version: tuple[int, int] | None  # None when the loader could not be read
    system_dirs: tuple[str, ...]  # built-in search path, no trailing slash
    lib_dst: str  # what $LIB expands to
    platform: str  # what $PLATFORM expands to
    source: str  # where system_dirs came from: the loader path, or "guessed"

    @property
    def has_glibc_hwcaps(self) -> bool:
        return self.glibc_version is None or self.glibc_version >= (2, 33)

    @property
    def has_legacy_hwcaps(self) -> bool:
        return self.glibc_version is not None and self.glibc_version < (2, 37)


def read_loader_facts(view: FileView, interpreter: str | None, machine: str, elf_class: int) -> LoaderFacts:
    loader = interpreter or GLIBC_LOADERS.get((machine, elf_class))
    data = _loader_bytes(view, loader) if loader else None
    version = None
    dirs: tuple[str, ...] = ()
    if data is not None:
        release = _RELEASE.search(data)
        named = _VERSIONED_NAME.search(view.real_path(loader or ""))
        found = release or named
        version = (int(found.group(1)), int(found.group(2))) if found else None
        dirs = _system_dirs_in(data)
    source = loader or "guessed"
    if not dirs:
        dirs, source = _guess_system_dirs(view, machine, elf_class), "guessed"
    lib_dst = dirs[0].strip("/") if dirs else "lib"
    return LoaderFacts(version, dirs, lib_dst, _platform_string(machine, version), source)


def _loader_bytes(view: FileView, loader: str) -> bytes | None:
    data = view.read_file(loader, MAX_LOADER_BYTES)  # confined to the root, regular files only
    return data if isinstance(data, bytes) else None


def _system_dirs_in(data: bytes) -> tuple[str, ...]:
    """The SYSTEM_DIRS constant: NUL-separated directories each ending in '/', at least one under /lib."""
    best: tuple[str, ...] = ()
    for match in _SYSTEM_DIRS.finditer(data):
        dirs = tuple(d.decode("ascii", "replace").rstrip("/") for d in match.group().split(b"\0") if d)
        if len(dirs) > len(best):
            best = dirs
    return best


def _guess_system_dirs(view: FileView, machine: str, elf_class: int) -> tuple[str, ...]:
    triplet = TRIPLETS.get(machine)
    if triplet and (view.is_dir(f"/usr/lib/{triplet}") or view.is_dir(f"/lib/{triplet}")):
        return (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")
    if elf_class == 64 and view.is_dir("/usr/lib64"):
        return ("/lib64", "/usr/lib64")
    return ("/lib", "/usr/lib")


def _platform_string(machine: str, version: tuple[int, int] | None) -> str:
    if machine == "x86_64" and version is not None and version < (2, 37):
        vendor, flags = _cpu_flags()
        haswell = {"avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "popcnt"}
        if vendor == "GenuineIntel" and {"avx512cd", "avx512er", "avx512pf"} <= flags:
            return "xeon_phi"
        if vendor == "GenuineIntel" and haswell <= flags:
            return "haswell"  # glibc 2.26-2.36 replace AT_PLATFORM on such Intel CPUs
    return PLATFORMS.get(machine, machine)


def legacy_subdirs(facts: LoaderFacts, machine: str) -> tuple[str, ...]:
    """glibc < 2.37: tls/ and hwcap/platform subdirectories tried in every search directory, best first.

    Every subset of the capability names, the full set first, each with and without "tls/", as
    _dl_important_hwcaps builds them (ld.so --help lists them under "Legacy HWCAP subdirectories").
    """
    if not facts.has_legacy_hwcaps:
        return ()
    caps = [facts.platform]
    if machine == "x86_64":
        caps.append("x86_64")  # HWCAP_X86_64 is always set on x86_64
    subsets: list[str] = []
    for mask in range((1 << len(caps)) - 1, 0, -1):
        subsets.append("/".join(c for i, c in enumerate(caps) if mask & (1 << (len(caps) - 1 - i))))
    return (*(f"tls/{s}" for s in subsets), "tls", *subsets)


def musl_arch(interpreter: str | None) -> str | None:
    match = MUSL_INTERPRETER.search(interpreter or "")
    return match.group(1) if match else None
