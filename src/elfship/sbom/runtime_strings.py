"""Run-time needs a program names in its constant strings, where the loader never looks.

- A statically linked OpenSSL records the CA-certificate location of the machine that built it: the string
  `OPENSSLDIR: "<dir>"` (`OpenSSL_version(OPENSSL_DIR)`), next to X509_CERT_FILE (`<dir>/cert.pem`) and
  X509_CERT_DIR (`<dir>/certs`). Present in the program's bytes means OpenSSL is in the program, not in a
  shared libssl (openssl-src's `vendored` build: /usr/local/ssl; Debian's libssl.a: /usr/lib/ssl).
- Sonames as whole C strings (`"libfoo.so.3"`): what dlopen may be asked for; DT_NEEDED does not list them.
- A static glibc with iconv carries its gconv module directory (GCONV_DIR) and `gconv-modules`.

One bounded scan of the constant-data sections (SectionView.string_data) answers all three. The one home of
these facts: `build` warns from them, `check` judges them against a target.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from elfship.elf.image import Image
from elfship.errors import ElfError
from elfship.record import record
from elfship.sbom.sections import SectionView

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

OPENSSLDIR_MARKER = b'OPENSSLDIR: "'
MAX_DIR = 4096  # PATH_MAX: a longer "path" is not one
MAX_SONAMES = 64  # a program naming more is listing, not loading; the first ones are evidence enough
# A whole C string naming a shared object: NUL before, NUL after (a soname inside a longer text is not one).
SONAME = re.compile(rb"\0(lib[A-Za-z0-9_+-][A-Za-z0-9_+.-]{0,62}\.so(?:\.[0-9]{1,6}){0,4})(?=\0)")
GCONV_MARKERS = (b"\0GCONV_PATH\0", b"\0gconv-modules\0")
GCONV_DIR = re.compile(rb"\0(/[!-~]{1,255}/gconv)\0")


@record
class RuntimeStrings:
    openssl_dir: str | None = None  # the OPENSSLDIR of an OpenSSL linked into the file; None: none inside
    sonames: tuple[str, ...] = ()  # sonames named as whole strings (dlopen candidates), in file order
    gconv_dir: str | None = None  # a static glibc's gconv module directory, when iconv is linked in
    uses_gconv: bool = False  # iconv's module loader is linked in (GCONV_PATH and gconv-modules)

    @property
    def openssl_cert_file(self) -> str | None:
        return None if self.openssl_dir is None else f"{self.openssl_dir}/cert.pem"

    @property
    def openssl_cert_dir(self) -> str | None:
        return None if self.openssl_dir is None else f"{self.openssl_dir}/certs"


NOTHING = RuntimeStrings()


def read_runtime_strings(path: str | os.PathLike[str]) -> RuntimeStrings:
    """The run-time strings of the file at PATH; NOTHING when it is empty or not ELF. Cached by the file's
    identity, because check asks once per target. Never executes the file."""
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except OSError:
        return NOTHING
    if name.startswith("/proc/self/fd/"):
        return _read(name)  # a descriptor path names a different file each time: never cache it
    return _cached(name, st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=64)
def _cached(path: str, size: int, mtime: int, inode: int) -> RuntimeStrings:
    return _read(path)


def _read(path: str) -> RuntimeStrings:
    try:
        with Image(path) as image:
            if image.size == 0:
                return NOTHING
            try:
                data = SectionView(image).string_data()
            except (ElfError, ValueError, OverflowError, IndexError):
                data = image.data  # no usable section headers: the whole file, as string_data would
            return strings_in(data)
    except ElfError:
        return NOTHING


def strings_in(data: Any) -> RuntimeStrings:
    """The run-time strings in DATA (bytes or an mmap)."""
    uses_gconv = all(data.find(marker) >= 0 for marker in GCONV_MARKERS)
    gconv = GCONV_DIR.search(data) if uses_gconv else None
    return RuntimeStrings(
        openssl_dir=_openssl_dir(data),
        sonames=_sonames(data),
        gconv_dir=gconv.group(1).decode("utf-8", "replace") if gconv else None,
        uses_gconv=uses_gconv,
    )


def _openssl_dir(data: Any) -> str | None:
    start = data.find(OPENSSLDIR_MARKER)
    if start < 0:
        return None
    start += len(OPENSSLDIR_MARKER)
    end = data.find(b'"', start, start + MAX_DIR)
    if end < 0:
        return None
    directory = bytes(data[start:end]).decode("utf-8", "replace")
    return directory if directory.startswith("/") else None


def _sonames(data: Any) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for match in SONAME.finditer(data):
        found.setdefault(match.group(1).decode("ascii"), None)
        if len(found) >= MAX_SONAMES:
            break
    return tuple(found)
