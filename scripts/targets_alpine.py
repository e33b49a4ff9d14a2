"""Alpine Linux 3.12 and later: musl version, end of support and what the official image ships.

musl has no symbol versions, so an Alpine release is described by its musl version alone. Every fact below
names where it was read; a fact nobody could source is None, never a guess.
"""

from __future__ import annotations

from typing import Any, NamedTuple

REPO_INFO = "github.com/docker-library/repo-info repos/alpine/local/{tag}.md (packages of the official image)"
APK_INDEX = "dl-cdn.alpinelinux.org/alpine/{path} (package file name in the release's package index)"
RELEASES_PAGE = "alpinelinux.org/releases (end of support of the main repository, as cited by {cite})"


class AlpineRelease(NamedTuple):
    version: str
    musl: str
    musl_source: str
    eol: str | None
    eol_source: str
    # The official image's repo-info file (its tag) and those of its library packages whose sonames are
    # certain; None when no package list of the image was found.
    image_tag: str | None = None
    image_packages: tuple[str, ...] | None = None


# Library packages of the official image -> the sonames they ship (musl's loader doubles as libc).
# apk-tools' own libapk and libretls' libtls are left out: their sonames are not sourced here.
PACKAGE_SONAMES: dict[str, tuple[str, ...]] = {
    "musl": ("ld-musl-{arch}.so.1", "libc.musl-{arch}.so.1"),
    "zlib": ("libz.so.1",),
    "libcrypto1.1": ("libcrypto.so.1.1",),
    "libssl1.1": ("libssl.so.1.1",),
    "libcrypto3": ("libcrypto.so.3",),
    "libssl3": ("libssl.so.3",),
}

_OPENSSL_11 = ("musl", "zlib", "libcrypto1.1", "libssl1.1")
_OPENSSL_3 = ("musl", "zlib", "libcrypto3", "libssl3")
_HISTORY = "wiki.linux-server-admin.com Alpine history"


def _from_index(path: str) -> str:
    return APK_INDEX.format(path=path)


def _from_image(tag: str, package: str) -> str:
    return REPO_INFO.format(tag=tag) + f": {package}"


def _eol(cite: str) -> str:
    return RELEASES_PAGE.format(cite=cite)


ALPINE_RELEASES: tuple[AlpineRelease, ...] = (
    AlpineRelease(
        "3.12", "1.1.24", _from_index("v3.12/main/armhf/musl-1.1.24-r9.apk"),
        "2022-05-01", _eol("github.com/lf-edge/runx issue 4"),
    ),
    AlpineRelease(
        "3.13", "1.2.2", _from_index("v3.13/main/x86_64/musl-1.2.2-r2.apk"),
        "2022-11-01", _eol("github.com/upbound/build pull 138"),
    ),
    AlpineRelease(
        "3.14", "1.2.2", _from_image("3.14.8", "musl-1.2.2-r3"),
        "2023-05-01", _eol("github.com/aquasecurity/trivy pull 1072"), "3.14.8", _OPENSSL_11,
    ),
    AlpineRelease(
        "3.15", "1.2.2", _from_image("3.15", "musl-1.2.2-r7 (alpine:3.15.6)"),
        "2023-11-01", _eol("github.com/dotnet/core issue 8888"), "3.15", _OPENSSL_11,
    ),
    AlpineRelease(
        "3.16", "1.2.3", _from_image("3.16", "musl-1.2.3-r1 (alpine:3.16.3)"),
        "2024-05-23", _eol("github.com/lxc/lxc-ci pull 829"), "3.16", _OPENSSL_11,
    ),
    AlpineRelease(
        "3.17", "1.2.3", _from_image("3.17.1", "musl-1.2.3-r4"),
        "2024-11-22", _eol("github.com/home-assistant/docker-base pull 288"), "3.17.1", _OPENSSL_3,
    ),
    AlpineRelease(
        "3.18", "1.2.4", _from_index("v3.18/main/x86_64/musl-1.2.4-r2.apk"),
        "2025-05-09", _eol("github.com/aquasecurity/trivy pull 4308"),
    ),
    AlpineRelease(
        "3.19", "1.2.4",
        _from_index("v3.19/main/x86_64/musl-1.2.4_git20230717-r4.apk") + " (a git snapshot after musl 1.2.4)",
        "2025-11-01", _eol("github.com/aquasecurity/trivy pull 5938"),
    ),
    AlpineRelease(
        "3.20", "1.2.5", _from_index("v3.20/main/x86_64/musl-1.2.5-r3.apk"),
        "2026-04-01", _eol(_HISTORY),
    ),
    AlpineRelease(
        "3.21", "1.2.5", _from_image("3.21.8", "musl-1.2.5-r11"),
        "2026-11-01", _eol(_HISTORY), "3.21.8", _OPENSSL_3,
    ),
    AlpineRelease(
        "3.22", "1.2.5", _from_image("3.22", "musl-1.2.5-r12 (alpine:3.22.6)"),
        "2027-05-01", _eol(_HISTORY), "3.22", _OPENSSL_3,
    ),
    AlpineRelease(
        "3.23", "1.2.5", _from_image("3.23.6", "musl-1.2.5-r23"),
        "2027-11-01", _eol(_HISTORY), "3.23.6", _OPENSSL_3,
    ),
    AlpineRelease(
        "3.24", "1.2.6", _from_image("3.24.2", "musl-1.2.6-r2"),
        None, "eol: not found in the sources consulted", "3.24.2", _OPENSSL_3,
    ),
)  # fmt: skip


def alpine_records(arch: str) -> list[dict[str, Any]]:
    return [_record(release, arch) for release in ALPINE_RELEASES]


def _record(release: AlpineRelease, arch: str) -> dict[str, Any]:
    sources = [
        f"libc_version: {release.musl_source}",
        f"eol: {release.eol_source}" if release.eol else release.eol_source,
    ]
    base = _base_sonames(release, arch)
    if base is not None:
        sources.append(
            "base_sonames: "
            + REPO_INFO.format(tag=release.image_tag)
            + " packages mapped to their sonames; libapk and libtls not listed"
        )
    return {
        "name": f"alpine:{release.version}",
        "family": "alpine",
        "version": release.version,
        "aliases": [],
        "arch": arch,
        "libc": "musl",
        "libc_version": release.musl,
        "version_nodes": {},
        "eol": release.eol,
        "lts_end": None,
        "elts_end": None,
        "rolling": False,
        "base_sonames": base,
        "package_manager": "apk",
        "kind": "release",
        "kernel": None,
        "isa_baseline": "x86-64" if arch == "x86_64" else None,
        "package_index": None,
        "sources": sources,
    }


def _base_sonames(release: AlpineRelease, arch: str) -> list[str] | None:
    # The package lists are of the amd64 image; the same packages make up the arm64 image, but that was not
    # checked, so other arches stay unknown.
    if release.image_packages is None or arch != "x86_64":
        return None
    names = [
        soname.format(arch=arch) for package in release.image_packages for soname in PACKAGE_SONAMES[package]
    ]
    return sorted(names)
