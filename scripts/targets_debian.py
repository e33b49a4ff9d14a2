"""Debian facts measured from Debian itself: base sonames of a minbase root, and soname -> package maps
from each suite's Contents-amd64 index on deb.debian.org."""

from __future__ import annotations

import gzip
import hashlib
import re
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from elfship.atomic import replacing
from elfship.errors import ElfError
from elfship.resolve.rootfs import FileView, read_elf_located
from elfship.targets.root import scan_libraries

MIRROR = "http://deb.debian.org/debian"
# Release name -> suite the mirror serves. Debian 10 and older left the main mirror (archive.debian.org).
SUITES = {"debian:11": "bullseye", "debian:12": "bookworm", "debian:13": "trixie", "debian:unstable": "sid"}

# A shared library (or the loader, ld-*.so.N) directly in a library directory; subdirectories hold plugins.
_LIBRARY_LINE = re.compile(
    rb"^(?:usr/)?lib(?:64)?/(?:x86_64-linux-gnu/)?((?:lib|ld-)[^/\s]*\.so(?:\.[^/\s]*)?)\s+(\S+)\s*$"
)
_VERSIONED = re.compile(r"\.so\.\d")
NOT_NATURAL = ("-dbg", "-dbgsym", "-dev")
_VARIANT_WORDS = ("-extra", "-gles", "-compat", "-shim", "-nonfree", "-ncurses", "-antlrdbg")


class MirrorUnreachable(Exception):
    pass


def contents_url(suite: str) -> str:
    return f"{MIRROR}/dists/{suite}/main/Contents-amd64.gz"


def fetch_contents(suite: str, cache: Path, *, offline: bool) -> Path:
    """The suite's Contents-amd64.gz, downloaded once into `cache` (never into the repository)."""
    target = cache / "debian" / f"Contents-amd64-{suite}.gz"
    if target.exists():
        return target
    if offline:
        raise MirrorUnreachable(f"{target} is not cached and --offline was given")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # A temp file of its own, renamed: two downloads at once (parallel tests) never mix their bytes.
        with (
            replacing(target) as partial,
            urllib.request.urlopen(contents_url(suite), timeout=60) as response,
            partial.open("wb") as out,
        ):
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        raise MirrorUnreachable(f"{contents_url(suite)}: {exc}") from exc
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def library_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(library file name, package) for every shared library in the library directories of one
    Contents-amd64.gz: the one reader of those indexes."""
    with gzip.open(path, "rb") as lines:
        for line in lines:
            if b".so" not in line:
                continue
            match = _LIBRARY_LINE.match(line)
            if match is None:
                continue
            name = match.group(1).decode()
            for qualified in match.group(2).decode().split(","):
                yield name, qualified.rsplit("/", 1)[-1]


def is_link_time_name(name: str, package: str) -> bool:
    """libfoo.so in libfoo-dev: the link-time symlink, never a soname at run time."""
    return ".so." not in name and package.endswith(NOT_NATURAL)


def parse_contents(path: Path) -> dict[str, str]:
    """soname -> the natural package that ships it, for shared libraries in the library directories."""
    shipped: dict[str, set[str]] = defaultdict(set)
    for name, package in library_lines(path):
        shipped[name].add(package)
    mapping: dict[str, str] = {}
    for name, packages in shipped.items():
        if not _VERSIONED.search(name) and all(p.endswith(NOT_NATURAL) for p in packages):
            continue  # libfoo.so in libfoo-dev: the link-time symlink, never a soname at run time
        mapping[name] = natural_package(name, packages)
    return dict(sorted(mapping.items()))


def natural_package(soname: str, packages: set[str]) -> str:
    """The package a Debian user would install for `soname`: the one named by policy (libpq.so.5 -> libpq5,
    also with the t64 suffix), not a -dbg/-dev/-extra/-gles variant; then the shortest name."""
    stem = soname.split(".so", 1)[0].lower()
    number = soname.split(".so.", 1)[1].split(".")[0] if ".so." in soname else ""
    policy = {f"{stem}{number}", f"{stem}-{number}", f"{stem}{number}t64", f"{stem}-{number}t64"}

    def rank(package: str) -> tuple[int, int, int, int, str]:
        return (
            package.endswith(NOT_NATURAL),
            package not in policy,
            any(word in package for word in _VARIANT_WORDS),
            len(package),
            package,
        )

    return min(packages, key=rank)


def write_gzip_json(path: Path, text: str) -> None:
    """Deterministic gzip: no file name, no time stamp, so two runs give the same bytes."""
    payload = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(payload)
    temporary.replace(path)


def base_sonames(root: Path) -> list[str]:
    """Sonames (and versioned file names) of the ELF files in the root's library directories."""
    return sorted(scan_libraries(FileView(root)))


def library_nodes(root: Path) -> dict[str, list[str] | None]:
    """soname -> the version nodes its .gnu.version_d defines, for every library base_sonames lists.

    None marks a library with no .gnu.version_d at all (ld.so says "no version information available",
    then stops at the first symbol bound to the needed version); [] one whose .gnu.version_d holds only its
    base entry. Either way it provides no version; the difference is kept for the messages.
    """
    nodes: dict[str, list[str] | None] = {}
    for soname, found in scan_libraries(FileView(root)).items():
        try:
            info = read_elf_located(found)
        except (ElfError, OSError):
            continue  # not an ELF file the reader accepts: left out, so its nodes stay unknown
        defines = bool(info.version_definitions) or ".gnu.version_d" in info.sections
        nodes[soname] = sorted(info.version_definitions) if defines else None
    return dict(sorted(nodes.items()))


def _unpacked_version(root: Path, package: str) -> str | None:
    """A --foreign root has no dpkg status yet: the version is in the name of the .deb it unpacked."""
    for deb in sorted((root / "var/cache/apt/archives").glob(f"{package}_*.deb")):
        return deb.name.split("_")[1].replace("%3a", ":")
    return None


def dpkg_version(root: Path, package: str) -> str | None:
    """The installed version of `package` from the root's dpkg status file (for the source note)."""
    status = root / "var/lib/dpkg/status"
    if not status.is_file() or status.stat().st_size == 0:
        return _unpacked_version(root, package)
    current = None
    for line in status.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Package: "):
            current = line.split(": ", 1)[1]
        elif line.startswith("Version: ") and current == package:
            return line.split(": ", 1)[1]
    return None
