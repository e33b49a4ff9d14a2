"""Which C library a file was built against, and the oldest glibc that can run it."""

from __future__ import annotations

import re
from operator import itemgetter

from elfship.abi import version_key
from elfship.elf.image import Image
from elfship.elf.model import LibcFamily, LibcInfo

GLIBC_VERSION = re.compile(r"^GLIBC_(\d+(?:\.\d+)*)$")
GLIBC_INTERPRETERS = ("ld-linux", "ld64.so", "ld.so.1", "ld-2.")
MUSL_SONAME = re.compile(r"libc\.musl-|libc\.so(?!\.6\Z)")  # musl's libc.so (or Alpine's name), not glibc's

# Byte strings that only one libc's static code carries. glibc's start-up refuses old kernels with this
# message, and reads GLIBC_TUNABLES; musl's strerror table has this text for errno 0 (glibc says "Success").
# GLIBC_TUNABLES first: glibc >= 2.26 has it, and glibc 2.36 dropped the kernel check, so a search for the
# message would read the whole of every new static program before the tunables answered.
GLIBC_STATIC_SIGNATURES = (b"GLIBC_TUNABLES", b"FATAL: kernel too old")
# The second is a symbol name: only a symbol table (or debug strings) holds it, never musl's data.
MUSL_STATIC_SIGNATURES = (b"No error information", b"\0__init_libc\0")
NSS_SIGNATURE = b"nsswitch.conf"


# Version nodes that name an ABI feature, not a release: the glibc release that first defined each.
# GLIBC_ABI_DT_RELR: linked with -z pack-relative-relocs, the loader must apply DT_RELR (glibc 2.36).
GLIBC_ABI_NODES = {"GLIBC_ABI_DT_RELR": "2.36"}


MAX_CACHED = 4096  # version names remembered across files (hostile files bring new ones)
# (release, (its sort key, 1 for a release node / 0 for an ABI node)): max() prefers the release node.
GlibcNumber = tuple[str, tuple[tuple[int, ...], int]]


class _GlibcNumbers(dict[str, "GlibcNumber | None"]):
    """version node -> its GlibcNumber, or None: every file repeats the same few dozen names, so each is
    parsed once per process, on its first lookup (a plain [] lookup, which map() makes in C)."""

    def __missing__(self, version: str) -> GlibcNumber | None:
        match = GLIBC_VERSION.match(version)
        number = match.group(1) if match else GLIBC_ABI_NODES.get(version)
        found = None if number is None else (number, (version_key(number), 0 if match is None else 1))
        if len(self) >= MAX_CACHED:
            self.clear()
        self[version] = found
        return found


_GLIBC_NUMBERS = _GlibcNumbers()


def highest_glibc(versions: list[str]) -> str | None:
    """The highest glibc release the version nodes name; of equal releases, a release node's spelling."""
    found = list(filter(None, map(_GLIBC_NUMBERS.__getitem__, versions)))
    return max(found, key=itemgetter(1))[0] if found else None


_INFOS: dict[tuple[LibcFamily, str | None], LibcInfo] = {}


def libc_info(family: LibcFamily, min_version: str | None) -> LibcInfo:
    """LibcInfo(family, min_version), one shared instance per value (records are frozen): every file of a
    system names one of a few dozen."""
    info = _INFOS.get((family, min_version))
    if info is None:
        if len(_INFOS) >= MAX_CACHED:
            _INFOS.clear()
        info = _INFOS[family, min_version] = LibcInfo(family, min_version)
    return info


def classify_dynamic(interpreter: str | None, needed: tuple[str, ...], all_versions: list[str]) -> LibcInfo:
    min_version = highest_glibc(all_versions)
    name = (interpreter or "").rsplit("/", 1)[-1]
    if "ld-musl" in name or any(map(MUSL_SONAME.match, needed)):
        return libc_info(LibcFamily.MUSL, None)
    if min_version or "libc.so.6" in needed or any(v.startswith("GLIBC_") for v in all_versions):
        return libc_info(LibcFamily.GLIBC, min_version)
    if interpreter and name.startswith(GLIBC_INTERPRETERS):
        return libc_info(LibcFamily.GLIBC, None)
    if not needed and not interpreter:
        return libc_info(LibcFamily.NONE, None)
    return libc_info(LibcFamily.UNKNOWN, None)


def classify_static(image: Image, is_go: bool, may_name_symbols: bool = True) -> tuple[LibcInfo, bool]:
    """(libc, uses NSS) for a file with no interpreter and no NEEDED, from signatures in its bytes.

    may_name_symbols=False says the file has section headers but neither a symbol table nor debug strings:
    then musl's symbol name cannot be in it, and that whole-file search is skipped (a libc-free program
    such as valgrind's tools is read 3 times, not 4)."""
    if any(image.contains(sig) for sig in GLIBC_STATIC_SIGNATURES):
        return libc_info(LibcFamily.GLIBC, None), image.contains(NSS_SIGNATURE)
    musl = MUSL_STATIC_SIGNATURES if may_name_symbols else MUSL_STATIC_SIGNATURES[:1]
    if any(image.contains(sig) for sig in musl):
        return libc_info(LibcFamily.MUSL, None), False
    if is_go:
        return libc_info(LibcFamily.NONE, None), False
    return libc_info(LibcFamily.UNKNOWN, None), False
