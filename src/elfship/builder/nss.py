"""Which NSS functions a static glibc binary calls.

glibc linked statically still loads the *running system's* libnss_*.so for users, groups and host names
(getaddrinfo, getpwnam, ...), and those must come from the same glibc version the binary was linked with.
A static binary has no dynamic symbols, so the names are read from its .symtab (before --strip removes it);
a stripped one is only known to carry the NSS machinery by its "nsswitch.conf" string.
"""

from __future__ import annotations

import os

from elfship.elf.image import Image
from elfship.elf.libc import NSS_SIGNATURE
from elfship.sbom.sections import SectionView

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


def nss_functions(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """NSS functions the file defines (in .symtab); ("<unknown: stripped>",) when only glibc's NSS marker
    (the "nsswitch.conf" string the ELF reader also looks for) says so."""
    with Image(os.fspath(path)) as image:
        view = SectionView(image)
        if not view.has(".symtab"):
            return ("<unknown: stripped>",) if image.contains(NSS_SIGNATURE) else ()
        return tuple(sorted(view.defined_symbols(NSS_FUNCTIONS)))
