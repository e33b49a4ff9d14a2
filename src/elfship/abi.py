"""ABI facts shared by every layer: how version nodes are named and ordered, where each architecture's loader
lives, and which sonames belong to glibc.

The one home of these facts: the ELF reader, the resolver, the targets, check, inspect's report, build and
bundle all ask here, so "GLIBC_2.29" can never be split or ordered two ways, and a loader path never has two
spellings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMERIC = re.compile(r"^\d+(\.\d+)*$")

# glibc's loader per (ELF machine, ELF class): what PT_INTERP says and where it is installed.
GLIBC_LOADERS: dict[tuple[str, int], str] = {
    ("x86_64", 64): "/lib64/ld-linux-x86-64.so.2",
    ("x86_64", 32): "/libx32/ld-linux-x32.so.2",
    ("i386", 32): "/lib/ld-linux.so.2",
    ("aarch64", 64): "/lib/ld-linux-aarch64.so.1",
    ("arm", 32): "/lib/ld-linux-armhf.so.3",
    ("ppc64le", 64): "/lib64/ld64.so.2",
    ("ppc64", 64): "/lib64/ld64.so.1",
    ("s390x", 64): "/lib/ld64.so.1",
    ("riscv64", 64): "/lib/ld-linux-riscv64-lp64d.so.1",
    ("loongarch64", 64): "/lib64/ld-linux-loongarch-lp64d.so.1",
}
# musl maps these names to itself (ldso/dynlink.c: "c.pthread.rt.m.dl.util.xnet.").
MUSL_RESERVED = ("libc.", "libpthread.", "librt.", "libm.", "libdl.", "libutil.", "libxnet.")
# musl names its loader after its own architecture names, not the ELF machine's.
MUSL_ARCH_BY_MACHINE = {"x86_64": "x86_64", "i386": "i386", "aarch64": "aarch64", "arm": "armhf"}

GLIBC_LOADER_SONAMES = frozenset(path.rsplit("/", 1)[1] for path in GLIBC_LOADERS.values())
# The parts of glibc programs link against (each defines GLIBC_* nodes; libm has some libc lacks).
GLIBC_LINKED_PARTS = (
    "libc.so.6",
    "libm.so.6",
    "libmvec.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libresolv.so.2",
    "libutil.so.1",
    "libanl.so.1",
)
# glibc's own libraries (one release ships them all, with one set of GLIBC_* nodes), and every loader above.
GLIBC_LIBRARIES = frozenset(
    {
        *GLIBC_LINKED_PARTS,
        "libnsl.so.1",
        "libcrypt.so.1",
        "libBrokenLocale.so.1",
        "libthread_db.so.1",
        "libc_malloc_debug.so.0",
        "libnss_files.so.2",
        "libnss_dns.so.2",
        "libnss_compat.so.2",
    }
    | GLIBC_LOADER_SONAMES
)


def musl_loader(machine: str) -> str:
    """musl's loader path for an ELF machine: /lib/ld-musl-x86_64.so.1."""
    return f"/lib/ld-musl-{MUSL_ARCH_BY_MACHINE.get(machine, machine)}.so.1"


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for dotted versions ("2.2.5" < "2.10"); a part that is not a number sorts before every
    number, so odd strings never crash a comparison."""
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def is_numeric_version(version: str) -> bool:
    return _NUMERIC.match(version) is not None


def split_version_node(node: str) -> tuple[str, str]:
    """Split a version node name into (namespace, version).

    GLIBC_2.29 -> ("GLIBC", "2.29"); GLIBCXX_3.4.30 -> ("GLIBCXX", "3.4.30"); CXXABI_TM_1 -> ("CXXABI", "TM_1");
    GLIBC_PRIVATE -> ("GLIBC", "PRIVATE"). A name without an underscore (a VERDEF base name such as
    "libc.so.6") has no namespace: (node, "").
    """
    namespace, sep, version = node.partition("_")
    if not sep or not namespace or not version:
        return node, ""
    return namespace, version


def is_private_node(node: str) -> bool:
    """GLIBC_PRIVATE and friends: tied to one exact build of the library, never portable across releases."""
    return split_version_node(node)[1] == "PRIVATE"


def highest_version(versions: Iterable[str]) -> str | None:
    """The highest numeric version of a set, e.g. the newest GLIBC node a release offers."""
    numeric = [v for v in versions if is_numeric_version(v)]
    return max(numeric, key=version_key) if numeric else None


def highest_node_per_namespace(nodes: Iterable[str]) -> list[str]:
    """The newest numbered node of each namespace (GLIBC_2.34, GLIBCXX_3.4.30), sorted; unnumbered nodes
    (GLIBC_PRIVATE, CXXABI_TM_1) are left out."""
    best: dict[str, tuple[tuple[int, ...], str]] = {}
    for node in nodes:
        namespace, version = split_version_node(node)
        if not is_numeric_version(version):
            continue
        key = version_key(version)
        if namespace not in best or key > best[namespace][0]:
            best[namespace] = (key, node)
    return sorted(node for _, node in best.values())
