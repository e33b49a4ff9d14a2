"""Base systems of releases the Debian mirror does not serve, from their official container images.

The package lists (scripts/data/images/*.txt) are copied from the docker-library `repo-info` repository
(github.com/docker-library/repo-info, repos/IMAGE/local/TAG.md: the packages installed in the official
image), each with its source path, commit and the image's creation date: those lists are measured facts.

Packages are mapped to sonames by a stated method, and every soname so found is an inference:
1. Debian's Contents-amd64 indexes (the same ones the package maps come from): the sonames the
   same-named package ships in the library directories, taken from the first suite in the image's
   `suites` order that has the package (the suite nearest the release first).
   A "t64" package (Debian's and Ubuntu's 64-bit time_t rename, soname unchanged) is also looked up
   without that suffix.
2. A package no suite knows is mapped by Debian's library package naming policy (Policy 8.1: a shared
   library package is named after the soname, `libfoo6` ships `libfoo.so.6`, `libfoo-1.0-2` ships
   `libfoo-1.0.so.2`).
A soname glibc itself shipped in some versions and a split-off package in others (libcrypt.so.1 moved to
libxcrypt's libcrypt1 in Debian 11, libnsl.so.1 to libnsl2) is left unknown where the image's own list
does not show it ("base_open"): a newer suite's Contents cannot say what the older libc6 held.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

from elfship.abi import GLIBC_LIBRARIES, GLIBC_LOADER_SONAMES
from targets_debian import is_link_time_name, library_lines

DATA = Path(__file__).resolve().parent / "data" / "images"
REPO_INFO = "github.com/docker-library/repo-info"


class ImageSource(NamedTuple):
    release: str  # canonical release name: debian:10, ubuntu:22.04
    file: str  # under scripts/data/images
    suites: tuple[str, ...]  # Debian suites whose Contents map package names, nearest release first


IMAGES: tuple[ImageSource, ...] = (
    ImageSource("debian:10", "debian-10.txt", ("bullseye", "bookworm", "trixie", "sid")),
    ImageSource("ubuntu:22.04", "ubuntu-22.04.txt", ("bookworm", "bullseye", "trixie", "sid")),
    ImageSource("ubuntu:24.04", "ubuntu-24.04.txt", ("trixie", "bookworm", "sid")),
)

# Packages named before (or outside) the policy, whose one library file is known from the release's
# package file list (packages.debian.org/buster/amd64/PACKAGE/filelist); the policy rule would guess wrong.
KNOWN_FILES: dict[str, tuple[str, ...]] = {
    "libgcc1": ("libgcc_s.so.1",),
    "libapt-pkg5.0": ("libapt-pkg.so.5.0",),
}

# Policy 8.1 names: libfoo6 -> libfoo.so.6; a stem ending in a digit takes a hyphen: libfoo2-1 -> libfoo2.so.1.
_POLICY_NAME = re.compile(r"^(lib[a-z0-9+.]*?[a-z+])(\d+)$|^(lib[a-z0-9+.-]*\d)-(\d+)$")


_GLIBC_FILE = re.compile(r"^[a-zA-Z_]+-2\.\d+\.so$")


class Manifest(NamedTuple):
    source: str  # "github.com/docker-library/repo-info repos/debian/local/10.13.md (commit ...)"
    created: str
    packages: dict[str, str]  # name -> version


def read_manifest(path: Path) -> Manifest:
    header: dict[str, str] = {}
    packages: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].strip().partition(": ")
            header[key] = value
        elif line.strip():
            name, _, version = line.partition("=")
            packages[name] = version
    return Manifest(header["source"], header["created"], packages)


def package_sonames(contents: Path) -> dict[str, set[str]]:
    """package -> the sonames it ships in the library directories, from one Contents-amd64.gz."""
    shipped: dict[str, set[str]] = defaultdict(set)
    for name, package in library_lines(contents):
        if not is_link_time_name(name, package):
            shipped[package].add(name)
    return shipped


def policy_soname(package: str) -> str | None:
    match = _POLICY_NAME.match(package)
    if match is None or package.endswith("t64"):
        return None
    stem, number = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return f"{stem}.so.{number}"


def _in_contents(
    package: str, suites: list[str], contents: dict[str, dict[str, set[str]]]
) -> set[str] | None:
    """The package's sonames in the first suite that has it; Debian's 64-bit time_t transition renamed
    libfoo1 to libfoo1t64 without changing the soname, so the name without "t64" is looked up as well."""
    names = [package, package.removesuffix("t64")] if package.endswith("t64") else [package]
    for name in names:
        for suite in suites:
            if name in contents[suite]:
                return contents[suite][name]
    return None


def image_base(
    image: ImageSource, contents: dict[str, dict[str, set[str]]]
) -> tuple[list[str], list[str], list[str]] | None:
    """(base sonames, sonames left open, notes) of one image, or None when no Contents index is at hand."""
    manifest = read_manifest(DATA / image.file)
    suites = [suite for suite in image.suites if suite in contents]
    if not suites:
        return None
    sonames: set[str] = set()
    by_rule: list[str] = []
    for package in manifest.packages:
        found = _in_contents(package, suites, contents)
        if found is not None:
            sonames |= found
        elif package in KNOWN_FILES:
            sonames.update(KNOWN_FILES[package])
            by_rule.append(f"{package} -> {', '.join(KNOWN_FILES[package])} (its file list)")
        elif package.startswith("lib") and (rule := policy_soname(package)) is not None:
            sonames.add(rule)
            by_rule.append(f"{package} -> {rule}")
    # glibc's real file names (ld-2.31.so, libm-2.31.so) name the suite's glibc, never the image's.
    sonames = {name for name in sonames if not _GLIBC_FILE.match(name)}
    # Other architectures' loaders are simply absent; glibc's other libraries may have moved packages.
    open_names = sorted(GLIBC_LIBRARIES - GLIBC_LOADER_SONAMES - sonames)
    notes = [f"mapped without a Contents entry: {', '.join(by_rule)}"] if by_rule else []
    return sorted(sonames - set(open_names)), open_names, notes


def add_image_bases(records: list[dict[str, Any]], contents: dict[str, dict[str, set[str]]]) -> list[str]:
    """Fill base_sonames of the image releases (x86_64: the manifests are of the amd64 images)."""
    messages = []
    for image in IMAGES:
        record = next(r for r in records if r["name"] == image.release and r["arch"] == "x86_64")
        result = image_base(image, contents)
        if result is None:
            messages.append(f"base_sonames of {image.release} unknown: no Contents index of {image.suites}")
            continue
        sonames, open_names, notes = result
        manifest = read_manifest(DATA / image.file)
        suites = "/".join(s for s in image.suites if s in contents)
        record["base_sonames"] = sonames
        record["base_open"] = open_names
        record["base_basis"] = f"inferred from its image manifest ({manifest.source.split(' (')[0]})"
        record["sources"].append(
            f"base_sonames: inferred: packages of the official image, {manifest.source}, created "
            f"{manifest.created[:10]} (measured), mapped to sonames through Debian's Contents-amd64 of "
            f"{suites} (same package name, nearest suite first)"
            + (f"; {'; '.join(notes)}" if notes else "")
            + (f"; unknown: {', '.join(open_names)} (glibc's or a split-off package's)" if open_names else "")
        )
    return messages
