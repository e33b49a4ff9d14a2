"""Describe a real root filesystem (a debootstrap, a container export, a sysroot) as a Target.

Everything is read from files inside the root: /etc/os-release, the version definitions of its own libc,
libm, libstdc++ and libgcc_s, and the sonames of the files in its library directories. Nothing is executed.
Symlinks are followed inside the root (an absolute link target means root/target, not the host's).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from types import MappingProxyType

from elfship.elf import read_elf
from elfship.errors import ElfError, UsageError
from elfship.targets.catalog import get_target
from elfship.targets.families import (
    MAJOR_ONLY_FAMILIES,
    NODE_SOURCE_LIBRARIES,
    OS_RELEASE_IDS,
    PACKAGE_MANAGERS,
    highest_version,
    split_version_node,
)
from elfship.targets.libdirs import library_directories, resolve_in_root
from elfship.targets.model import Target

_GLIBC_BANNER = re.compile(rb"GNU C Library [^\n\x00]*?version (\d+\.\d+)")
_VERSIONED_NAME = re.compile(r"\.so\.\d")


def target_from_root(root: Path | str) -> Target:
    """Read what the root filesystem at `root` offers. Raises UsageError when it is not a directory."""
    root_path = Path(root)
    if not root_path.is_dir():
        raise UsageError(f"{root}: not a directory", fix="give the top directory of a root filesystem")
    os_release = read_os_release(root_path)
    family, version = _family_and_version(os_release)
    libraries = scan_libraries(root_path)
    libc, libc_path = _find_libc(root_path, libraries)
    nodes, node_sources = _version_nodes(libraries)
    arch = read_elf(libc_path).machine if libc_path else "unknown"
    libc_version = _libc_version(root_path, libc, libc_path, nodes)
    known = _known_release(family, version, arch)
    sources = [f"root {root_path}", "etc/os-release" if os_release else "no os-release file", *node_sources]
    return Target(
        name=known.name if known else f"{family}:{version}",
        family=family,
        version=known.version if known else version,
        aliases=known.aliases if known else (),
        arch=arch,
        libc=libc,
        libc_version=libc_version,
        version_nodes=MappingProxyType({ns: frozenset(v) for ns, v in nodes.items()}),
        eol=known.eol if known else None,
        lts_end=known.lts_end if known else None,
        elts_end=known.elts_end if known else None,
        rolling=known.rolling if known else False,
        base_sonames=frozenset(libraries),
        package_manager=known.package_manager if known else PACKAGE_MANAGERS.get(family, ""),
        sources=tuple(sources),
        kind="root",
        kernel=known.kernel if known else None,
        isa_baseline=known.isa_baseline if known else None,
        package_index=known.package_index if known else None,
        root=str(root_path),
    )


def read_os_release(root: Path) -> dict[str, str]:
    """KEY=value pairs of the root's os-release (etc/os-release, else usr/lib/os-release); {} if none."""
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        path = resolve_in_root(root, candidate)
        if path is not None and path.is_file():
            return _parse_os_release(path.read_text(encoding="utf-8", errors="replace"))
    return {}


def _parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.partition("=")
        if not sep or line.lstrip().startswith("#"):
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip("\"'")]
        values[key.strip()] = words[0] if words else ""
    return values


def _family_and_version(os_release: dict[str, str]) -> tuple[str, str]:
    os_id = os_release.get("ID", "unknown").lower()
    family = OS_RELEASE_IDS.get(os_id, os_id)
    if os_id == "centos" and "stream" in os_release.get("NAME", "").lower():
        family = "centos-stream"
    version = os_release.get("VERSION_ID") or os_release.get("VERSION_CODENAME") or "unknown"
    if os_id == "opensuse-tumbleweed":
        version = "tumbleweed"
    parts = version.split(".")
    if family in MAJOR_ONLY_FAMILIES and parts[0].isdigit():
        version = parts[0]
    elif family == "alpine" and len(parts) > 2:
        version = ".".join(parts[:2])
    return family, version


def _known_release(family: str, version: str, arch: str) -> Target | None:
    """The packaged release this root is an instance of (for EOL dates and the package index), if any."""
    try:
        return get_target(f"{family}:{version}", arch=arch)
    except UsageError:
        return None


def scan_libraries(root: Path) -> dict[str, Path]:
    """soname (or versioned file name) -> real path, for every ELF file in the root's library directories.

    A library is listed under its DT_SONAME (how ld.so.cache finds it; its file name when it has none) and
    under the name of every versioned symlink to it, such as libbz2.so.1 (how a directory search finds it).
    The real files' own names (libz.so.1.2.13) are left out: no link records them as a dependency.
    """
    found: dict[str, Path] = {}
    sonames: dict[Path, str | None] = {}
    for directory in library_directories(root):
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if ".so" not in entry.name:
                continue
            real = resolve_in_root(root, "/" + os.path.relpath(Path(directory) / entry.name, root))
            if real is None or not real.is_file():
                continue
            if real not in sonames:
                sonames[real] = _soname(real)
            soname = sonames[real]
            if soname is None and not _is_elf(real):
                continue
            found.setdefault(soname or entry.name, real)
            if entry.is_symlink() and _VERSIONED_NAME.search(entry.name):
                found.setdefault(entry.name, real)  # a deliberate alias such as libbz2.so.1
    return dict(sorted(found.items()))


def _soname(path: Path) -> str | None:
    try:
        return read_elf(path).soname
    except (ElfError, OSError):
        return None


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def _find_libc(root: Path, libraries: dict[str, Path]) -> tuple[str, Path | None]:
    if "libc.so.6" in libraries:
        return "glibc", libraries["libc.so.6"]
    for name, path in libraries.items():
        if name.startswith("ld-musl-") or name.startswith("libc.musl-"):
            return "musl", path
    for directory in ("/lib", "/usr/lib"):
        folder = resolve_in_root(root, directory)
        if folder is not None and folder.is_dir():
            for candidate in sorted(folder.glob("ld-musl-*.so.1")):
                return "musl", candidate
    return "none", None


def _version_nodes(libraries: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Namespace -> versions defined by the root's own glibc, libstdc++, libgcc_s, libatomic and zlib."""
    nodes: dict[str, set[str]] = {}
    sources: list[str] = []
    for soname in NODE_SOURCE_LIBRARIES:
        path = libraries.get(soname)
        if path is None:
            continue
        try:
            definitions = read_elf(path).version_definitions
        except (ElfError, OSError):
            continue
        sources.append(f"version definitions of {soname}")
        for node in definitions:
            namespace, version = split_version_node(node)
            if version:
                nodes.setdefault(namespace, set()).add(version)
    return nodes, sources


def _libc_version(root: Path, libc: str, libc_path: Path | None, nodes: dict[str, set[str]]) -> str:
    if libc == "glibc" and libc_path is not None:
        banner = _GLIBC_BANNER.search(libc_path.read_bytes())
        if banner:
            return banner.group(1).decode()
        return highest_version(nodes.get("GLIBC", set())) or ""
    if libc == "musl":
        return _musl_version_from_apk_db(root) or ""
    return ""


def _musl_version_from_apk_db(root: Path) -> str | None:
    """Alpine records installed packages in lib/apk/db/installed: P:musl then V:1.2.4-r2."""
    database = resolve_in_root(root, "/lib/apk/db/installed")
    if database is None or not database.is_file():
        return None
    package = None
    for line in database.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("P:"):
            package = line[2:]
        elif line.startswith("V:") and package == "musl":
            return line[2:].split("-r")[0].split("_")[0]
    return None
