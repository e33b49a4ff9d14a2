"""Which NSS functions a static glibc binary calls.

glibc linked statically still loads the *running system's* libnss_*.so for users, groups and host names
(getaddrinfo, getpwnam, ...), and those must come from the same glibc version the binary was linked with.
A static binary has no dynamic symbols, so the names are read from its .symtab (before --strip removes it);
a stripped one is only known to carry the NSS machinery by its "nsswitch.conf" string.
"""

from __future__ import annotations

import os

from elfship.elf.headers import read_header, read_sections
from elfship.elf.image import Image

SHT_SYMTAB = 2
NSS_FUNCTIONS = frozenset(
    {
        "getaddrinfo",
        "getnameinfo",
        "gethostbyname",
        "gethostbyname2",
        "gethostbyname_r",
        "gethostbyname2_r",
        "gethostbyaddr",
        "gethostbyaddr_r",
        "getpwnam",
        "getpwnam_r",
        "getpwuid",
        "getpwuid_r",
        "getpwent",
        "getgrnam",
        "getgrnam_r",
        "getgrgid",
        "getgrgid_r",
        "getgrouplist",
        "initgroups",
        "getservbyname",
        "getservbyname_r",
        "getservbyport",
        "getprotobyname",
        "getspnam",
        "getspnam_r",
    }
)
NSS_MARKER = b"nsswitch.conf"


def nss_functions(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """NSS functions named in the symbol table; ("<unknown: stripped>",) when only the marker says so."""
    with Image(os.fspath(path)) as image:
        names = _symbol_names(image)
        if names is None:
            return ("<unknown: stripped>",) if image.contains(NSS_MARKER) else ()
        return tuple(sorted(NSS_FUNCTIONS & names))


def _symbol_names(image: Image) -> frozenset[str] | None:
    sections = read_sections(image, read_header(image))
    if not sections:
        return None
    symtab = next((section for _, section in sections if section.sh_type == SHT_SYMTAB), None)
    if symtab is None or not 0 <= symtab.link < len(sections):
        return None
    strtab = sections[symtab.link][1]
    raw = image.slice(strtab.offset, strtab.size, "symbol string table")
    # Versioned or local aliases (getaddrinfo@GLIBC..., __getpwnam_r) name the same functions.
    return frozenset(
        name.decode("ascii", "replace").split("@", 1)[0].lstrip("_") for name in raw.split(b"\0")
    )
