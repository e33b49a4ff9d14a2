"""Describe a real root filesystem (a debootstrap, a container export, a sysroot) as a Target.

Everything is read from files inside the root: /etc/os-release, the version definitions of its own libc,
libm, libstdc++ and libgcc_s, and the sonames of the files in its library directories. Nothing is executed.
Symlinks are followed inside the root (an absolute link target means root/target, not the host's), and
every file is opened through the root's FileView: confined to the root, regular files only, bounded.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from types import MappingProxyType

from elfship.abi import highest_version, split_version_node
from elfship.elf import ElfInfo
from elfship.errors import ElfError, UsageError
from elfship.resolve.loaderfacts import read_loader_facts
from elfship.resolve.rootfs import (
    OUTCOME_ABSENT,
    FileView,
    Located,
    read_elf_located,
    read_located,
)
from elfship.targets.catalog import get_target
from elfship.targets.families import (
    MAJOR_ONLY_FAMILIES,
    NODE_SOURCE_LIBRARIES,
    OS_RELEASE_IDS,
    PACKAGE_MANAGERS,
)
from elfship.targets.libdirs import library_directories, locate_file
from elfship.targets.model import Target

_VERSIONED_NAME = re.compile(r"\.so\.\d")
MAX_OS_RELEASE = 64 << 10  # os-release is a few hundred bytes
MAX_APK_DB = 32 << 20  # Alpine's installed-package database: ~1 MiB on a large system


def target_from_root(root: Path | str, *, base_sonames: bool = True) -> Target:
    """Read what the root filesystem at `root` offers. Raises UsageError when it is not a directory.

    base_sonames=False skips the inventory of every library in the root (thousands of files on a full
    system) and reads only libc and the libraries that define version nodes; the Target's base_sonames is
    then None, and `ships_in_root` answers for the sonames a check asks about."""
    root_path = Path(root)
    try:
        is_directory = root_path.is_dir()
    except OSError as exc:  # e.g. a root under a directory this user cannot enter
        raise UsageError(f"{root}: {exc.strerror}", fix="run as a user who can read the root") from None
    if not is_directory:
        raise UsageError(f"{root}: not a directory", fix="give the top directory of a root filesystem")
    view = FileView(root_path)
    os_release, os_release_source = _read_os_release(view)
    family, version = _family_and_version(os_release)
    libraries = scan_libraries(view) if base_sonames else _essential_libraries(view)
    libc, libc_file = _find_libc(view, libraries)
    read = functools.cache(_read)  # libc.so.6 gives its version nodes and the root's architecture: one parse
    nodes, node_sources = _version_nodes(libraries, read)
    libc_info = read(libc_file) if libc_file is not None else None
    arch = libc_info.machine if libc_info is not None else "unknown"
    libc_version = _libc_version(view, libc, libc_info, nodes)
    known = _known_release(family, version, arch)
    sources = [f"root {root_path}", os_release_source, *node_sources]
    return Target(
        name=known.name if known else f"{family}:{version}",
        family=family,
        version=known.version if known else version,
        aliases=known.aliases if known else (),
        arch=arch,
        libc=libc,
        libc_version=libc_version,
        version_nodes=MappingProxyType({ns: frozenset(v) for ns, v in nodes.items()}),
        eol_iso=known.eol_iso if known else None,
        lts_end_iso=known.lts_end_iso if known else None,
        elts_end_iso=known.elts_end_iso if known else None,
        # No VERSION_ID: a development release (Debian testing/sid, Arch), so no EOL to hold it to.
        rolling=known.rolling if known else "VERSION_ID" not in os_release,
        base_sonames=frozenset(libraries) if base_sonames else None,
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
    return _read_os_release(view)[0]


def _read_os_release(view: FileView) -> tuple[dict[str, str], str]:
    """(KEY=value pairs, what was read). A FIFO, a device or a huge file is ignored with a note, as if
    absent: it cannot be an os-release, and reading it would hang or never end."""
    notes: list[str] = []
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        data = view.read_file(candidate, MAX_OS_RELEASE)
        if isinstance(data, bytes):
            return _parse_os_release(data.decode("utf-8", "replace")), candidate.lstrip("/")
        if data != OUTCOME_ABSENT:
            notes.append(f"{candidate.lstrip('/')} ignored: {data}")
    return {}, "; ".join(notes) or "no os-release file"


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


def scan_libraries(view: FileView) -> dict[str, Located]:
    """soname (or versioned file name) -> the file, for every ELF file in the root's library directories.

    A library is listed under its DT_SONAME (how ld.so.cache finds it; its file name when it has none) and
    under the name of every versioned symlink to it, such as libbz2.so.1 (how a directory search finds it).
    The real files' own names (libz.so.1.2.13) are left out: no link records them as a dependency.
    """
    libraries: dict[str, Located] = {}
    sonames: dict[str, str | None] = {}
    for directory in library_directories(view):
        for name, is_symlink in sorted(view.scandir(directory.real_path)):
            if ".so" not in name:
                continue
            located = locate_file(view, f"{directory.real_path.rstrip('/')}/{name}")
            if located is None:
                continue
            if located.real_path not in sonames:
                sonames[located.real_path] = _soname(located)
            soname = sonames[located.real_path]
            if soname is None and not _is_elf(located):
                continue
            libraries.setdefault(soname or name, located)
            if is_symlink and _VERSIONED_NAME.search(name):
                libraries.setdefault(name, located)  # a deliberate alias such as libbz2.so.1
    return dict(sorted(libraries.items()))


def _essential_libraries(view: FileView) -> dict[str, Located]:
    """libc and the libraries whose version definitions a Target records, by file name in the library
    directories (the loader's directory search); a musl libc is found by _find_libc's own glob."""
    directories = library_directories(view)
    found: dict[str, Located] = {}
    for soname in ("libc.so.6", *NODE_SOURCE_LIBRARIES):
        located = _in_directories(view, directories, soname)
        if located is not None:
            found[soname] = located
    return found


def ships_in_root(view: FileView, sonames: Iterable[str]) -> dict[str, bool]:
    """Whether a file of each name stands in one of the root's library directories, where the loader's
    directory search (and a dlopen by that name) would find it. The directories are read once."""
    directories = library_directories(view)
    return {soname: _in_directories(view, directories, soname) is not None for soname in sonames}


def _in_directories(view: FileView, directories: list[Located], name: str) -> Located | None:
    for directory in directories:
        located = locate_file(view, f"{directory.real_path.rstrip('/')}/{name}")
        if located is not None:
            return located
    return None


def _read(found: Located) -> ElfInfo | None:
    try:
        return read_elf_located(found)
    except ElfError:
        return None


def _soname(found: Located) -> str | None:
    info = _read(found)
    return info.soname if info is not None else None


def _is_elf(found: Located) -> bool:
    return read_located(found, 4, whole=False) == b"\x7fELF"


def _find_libc(view: FileView, libraries: dict[str, Located]) -> tuple[str, Located | None]:
    if "libc.so.6" in libraries:
        return "glibc", libraries["libc.so.6"]
    for name, found in libraries.items():
        if name.startswith(("ld-musl-", "libc.musl-")):
            return "musl", found
    for candidate in view.glob("/lib/ld-musl-*.so.1"):
        located = locate_file(view, candidate)
        if located is not None:
            return "musl", located
    return "none", None


def _version_nodes(
    libraries: dict[str, Located], read: Callable[[Located], ElfInfo | None]
) -> tuple[dict[str, set[str]], list[str]]:
    """Namespace -> versions defined by the root's own glibc, libstdc++, libgcc_s, libatomic and zlib."""
    nodes: dict[str, set[str]] = {}
    sources: list[str] = []
    for soname in NODE_SOURCE_LIBRARIES:
        found = libraries.get(soname)
        info = read(found) if found is not None else None
        if info is None:
            continue
        definitions = info.version_definitions
        sources.append(f"version definitions of {soname}")
        for node in definitions:
            namespace, version = split_version_node(node)
            if version:
                nodes.setdefault(namespace, set()).add(version)
    return nodes, sources


def _libc_version(view: FileView, libc: str, libc_info: ElfInfo | None, nodes: dict[str, set[str]]) -> str:
    if libc == "glibc" and libc_info is not None:
        # The version the resolver works with too (its hwcaps rules depend on it): the loader's own
        # "release version X.Y" (or its ld-X.Y.so file name). Without a readable loader the root cannot run
        # anything, and the newest GLIBC node its libc defines is the best lower bound left.
        loader = read_loader_facts(view, None, libc_info.machine, libc_info.elf_class)
        if loader.glibc_version is not None:
            return "{}.{}".format(*loader.glibc_version)
        return highest_version(nodes.get("GLIBC", set())) or ""
    if libc == "musl":
        return _musl_version_from_apk_db(view) or ""
    return ""


def _musl_version_from_apk_db(view: FileView) -> str | None:
    """Alpine records installed packages in lib/apk/db/installed: P:musl then V:1.2.4-r2."""
    data = view.read_file("/lib/apk/db/installed", MAX_APK_DB)
    if isinstance(data, str):
        return None
    package = None
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("P:"):
            package = line[2:]
        elif line.startswith("V:") and package == "musl":
            return line[2:].split("-r")[0].split("_")[0]
    return None
