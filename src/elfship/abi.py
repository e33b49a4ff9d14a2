"""Facts about ELF symbol versioning shared by every layer: how version nodes are named and ordered.

The one home of these rules: the ELF reader, the targets, check, inspect's report and build all ask here, so
"GLIBC_2.29" can never be split or ordered two ways.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMERIC = re.compile(r"^\d+(\.\d+)*$")


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
