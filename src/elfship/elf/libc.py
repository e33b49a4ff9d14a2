"""Which C library a file was built against, and the oldest glibc that can run it."""

from __future__ import annotations

import re

from elfship.abi import version_key
from elfship.elf.image import Image
from elfship.elf.model import LibcFamily, LibcInfo

GLIBC_VERSION = re.compile(r"^GLIBC_(\d+(?:\.\d+)*)$")
GLIBC_INTERPRETERS = ("ld-linux", "ld64.so", "ld.so.1", "ld-2.")
MUSL_SONAMES = ("libc.so", "libc.musl-")

# Byte strings that only one libc's static code carries. glibc's start-up refuses old kernels with this
# message, and reads GLIBC_TUNABLES; musl's strerror table has this text for errno 0 (glibc says "Success").
# GLIBC_TUNABLES first: glibc >= 2.26 has it, and glibc 2.36 dropped the kernel check, so a search for the
# message would read the whole of every new static program before the tunables answered.
GLIBC_STATIC_SIGNATURES = (b"GLIBC_TUNABLES", b"FATAL: kernel too old")
MUSL_STATIC_SIGNATURES = (b"No error information", b"\0__init_libc\0")
NSS_SIGNATURE = b"nsswitch.conf"


# Version nodes that name an ABI feature, not a release: the glibc release that first defined each.
# GLIBC_ABI_DT_RELR: linked with -z pack-relative-relocs, the loader must apply DT_RELR (glibc 2.36).
GLIBC_ABI_NODES = {"GLIBC_ABI_DT_RELR": "2.36"}


MAX_CACHED = 4096  # version names remembered across files (hostile files bring new ones)
_GLIBC_NUMBERS: dict[str, tuple[str, tuple[int, ...], bool] | None] = {}


def _glibc_number(version: str) -> tuple[str, tuple[int, ...], bool] | None:
    """(release, its sort key, whether an ABI node named it) for a glibc version node, else None. Every
    file repeats the same few dozen names, so each is parsed once per process."""
    try:
        return _GLIBC_NUMBERS[version]
    except KeyError:
        pass
    match = GLIBC_VERSION.match(version)
    number = match.group(1) if match else GLIBC_ABI_NODES.get(version)
    found = None if number is None else (number, version_key(number), match is None)
    if len(_GLIBC_NUMBERS) >= MAX_CACHED:
        _GLIBC_NUMBERS.clear()
    _GLIBC_NUMBERS[version] = found
    return found


def highest_glibc(versions: list[str]) -> str | None:
    found = [number for v in versions if (number := _glibc_number(v)) is not None]
    if not found:
        return None
    # The release nodes first, then the ABI nodes: max() keeps the first of equal keys, as it always did.
    ordered = [n for n in found if not n[2]] + [n for n in found if n[2]]
    return max(ordered, key=_sort_key)[0]


def _sort_key(number: tuple[str, tuple[int, ...], bool]) -> tuple[int, ...]:
    return number[1]


def classify_dynamic(interpreter: str | None, needed: tuple[str, ...], all_versions: list[str]) -> LibcInfo:
    min_version = highest_glibc(all_versions)
    name = (interpreter or "").rsplit("/", 1)[-1]
    if "ld-musl" in name or any(n.startswith(MUSL_SONAMES) and n != "libc.so.6" for n in needed):
        return LibcInfo(LibcFamily.MUSL, None)
    if min_version or any(v.startswith("GLIBC_") for v in all_versions) or "libc.so.6" in needed:
        return LibcInfo(LibcFamily.GLIBC, min_version)
    if interpreter and name.startswith(GLIBC_INTERPRETERS):
        return LibcInfo(LibcFamily.GLIBC, None)
    if not needed and not interpreter:
        return LibcInfo(LibcFamily.NONE, None)
    return LibcInfo(LibcFamily.UNKNOWN, None)


def classify_static(image: Image, is_go: bool) -> tuple[LibcInfo, bool]:
    """(libc, uses NSS) for a file with no interpreter and no NEEDED, from signatures in its bytes."""
    if any(image.contains(sig) for sig in GLIBC_STATIC_SIGNATURES):
        return LibcInfo(LibcFamily.GLIBC, None), image.contains(NSS_SIGNATURE)
    if any(image.contains(sig) for sig in MUSL_STATIC_SIGNATURES):
        return LibcInfo(LibcFamily.MUSL, None), False
    if is_go:
        return LibcInfo(LibcFamily.NONE, None), False
    return LibcInfo(LibcFamily.UNKNOWN, None), False
