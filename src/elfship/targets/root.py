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
from elfship.resolve.rootfs import FileView
from elfship.targets.catalog import get_target
from elfship.targets.families import (
    MAJOR_ONLY_FAMILIES,
    NODE_SOURCE_LIBRARIES,
    OS_RELEASE_IDS,
    PACKAGE_MANAGERS,
    highest_version,
    split_version_node,
)
from elfship.targets.libdirs import library_directories, locate_file
from elfship.targets.model import Target

_GLIBC_BANNER = re.compile(rb"GNU C Library [^\n\x00]*?version (\d+\.\d+)")
_VERSIONED_NAME = re.compile(r"\.so\.\d")


def target_from_root(root: Path | str) -> Target:
    """Read what the root filesystem at `root` offers. Raises UsageError when it is not a directory."""
    root_path = Path(root)
    try:
        is_directory = root_path.is_dir()
    except OSError as exc:  # e.g. a root under a directory this user cannot enter
        raise UsageError(f"{root}: {exc.strerror}", fix="run as a user who can read the root") from None
    if not is_directory:
        raise UsageError(f"{root}: not a directory", fix="give the top directory of a root filesystem")
    view = FileView(root_path)
    os_release = read_os_release(view)
    family, version = _family_and_version(os_release)
    libraries = scan_libraries(view)
    libc, libc_path = _find_libc(view, libraries)
    nodes, node_sources = _version_nodes(libraries)
    arch = read_elf(libc_path).machine if libc_path else "unknown"
    libc_version = _libc_version(view, libc, libc_path, nodes)
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
        # No VERSION_ID: a development release (Debian testing/sid, Arch), so no EOL to hold it to.
        rolling=known.rolling if known else "VERSION_ID" not in os_release,
        base_sonames=frozenset(libraries),
        package_manager=known.package_manager if known else PACKAGE_MANAGERS.get(family, ""),
        sources=tuple(sources),
        kind="root",
        kernel=known.kernel if known else None,
        isa_baseline=known.isa_baseline if known else None,
        package_index=known.package_index if known else None,
        root=str(root_path),
    )


def read_os_release(view: FileView) -> dict[str, str]:
    """KEY=value pairs of the root's os-release (etc/os-release, else usr/lib/os-release); {} if none."""
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        found = locate_file(view, candidate)
        if found is not None:
            return _parse_os_release(Path(found.host_path).read_text(encoding="utf-8", errors="replace"))
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


def scan_libraries(view: FileView) -> dict[str, Path]:
    """soname (or versioned file name) -> real path, for every ELF file in the root's library directories.

    A library is listed under its DT_SONAME (how ld.so.cache finds it; its file name when it has none) and
    under the name of every versioned symlink to it, such as libbz2.so.1 (how a directory search finds it).
    The real files' own names (libz.so.1.2.13) are left out: no link records them as a dependency.
    """
    libraries: dict[str, Path] = {}
    sonames: dict[Path, str | None] = {}
    for directory in library_directories(view):
        for entry in sorted(os.scandir(directory.host_path), key=lambda e: e.name):
            if ".so" not in entry.name:
                continue
            located = locate_file(view, f"{directory.real_path.rstrip('/')}/{entry.name}")
            if located is None:
                continue
            real = Path(located.host_path)
            if real not in sonames:
                sonames[real] = _soname(real)
            soname = sonames[real]
            if soname is None and not _is_elf(real):
                continue
            libraries.setdefault(soname or entry.name, real)
            if entry.is_symlink() and _VERSIONED_NAME.search(entry.name):
                libraries.setdefault(entry.name, real)  # a deliberate alias such as libbz2.so.1
    return dict(sorted(libraries.items()))


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


def _find_libc(view: FileView, libraries: dict[str, Path]) -> tuple[str, Path | None]:
    if "libc.so.6" in libraries:
        return "glibc", libraries["libc.so.6"]
    for name, path in libraries.items():
        if name.startswith(("ld-musl-", "libc.musl-")):
            return "musl", path
    for candidate in view.glob("/lib/ld-musl-*.so.1"):
        found = locate_file(view, candidate)
        if found is not None:
            return "musl", Path(found.host_path)
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


def _libc_version(view: FileView, libc: str, libc_path: Path | None, nodes: dict[str, set[str]]) -> str:
    if libc == "glibc" and libc_path is not None:
        banner = _GLIBC_BANNER.search(libc_path.read_bytes())
        if banner:
            return banner.group(1).decode()
        return highest_version(nodes.get("GLIBC", set())) or ""
    if libc == "musl":
        return _musl_version_from_apk_db(view) or ""
    return ""


def _musl_version_from_apk_db(view: FileView) -> str | None:
    """Alpine records installed packages in lib/apk/db/installed: P:musl then V:1.2.4-r2."""
    database = locate_file(view, "/lib/apk/db/installed")
    if database is None:
        return None
    package = None
    for line in Path(database.host_path).read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("P:"):
            package = line[2:]
        elif line.startswith("V:") and package == "musl":
            return line[2:].split("-r")[0].split("_")[0]
    return None
