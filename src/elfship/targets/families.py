"""Facts about distribution families (not about one release): spellings, package managers, symbol versions.

Used both at run time (name lookup, roots) and by scripts/gen_targets.py, so the two never disagree.
"""

from __future__ import annotations

from elfship.abi import GLIBC_LIBRARIES, GLIBC_LINKED_PARTS, GLIBC_LOADERS, musl_loader

# Other spellings of a family name -> canonical family. Canonical names are what `Target.family` holds.
FAMILY_SPELLINGS: dict[str, str] = {
    "rhubi": "rhel",
    "ubi": "rhel",
    "redhat": "rhel",
    "red-hat": "rhel",
    "rockylinux": "rocky",
    "almalinux": "alma",
    "oraclelinux": "oracle",
    "ol": "oracle",
    "centos-stream": "centos-stream",
    "centosstream": "centos-stream",
    "stream": "centos-stream",
    "amzn": "amazonlinux",
    "amazon": "amazonlinux",
    "al": "amazonlinux",
    "opensuse-leap": "opensuse",
    "leap": "opensuse",
    "suse": "opensuse",
    "arch": "archlinux",
    "anolis": "anolisos",
    "altlinux": "alt",
}

# /etc/os-release ID -> canonical family (IDs that differ from the canonical name).
OS_RELEASE_IDS: dict[str, str] = {
    "almalinux": "alma",
    "ol": "oracle",
    "amzn": "amazonlinux",
    "opensuse-leap": "opensuse",
    "opensuse-tumbleweed": "opensuse",
    "arch": "archlinux",
    "anolis": "anolisos",
    "altlinux": "alt",
}

# Families whose release names carry only the major version (rhel:8 for RHEL 8.9).
MAJOR_ONLY_FAMILIES = frozenset(
    {"rhel", "rocky", "alma", "oracle", "centos-stream", "fedora", "amazonlinux", "debian", "mageia"}
)

# Default package manager of a family (a release may override it, e.g. rhel:7 uses yum).
PACKAGE_MANAGERS: dict[str, str] = {
    "debian": "apt",
    "ubuntu": "apt",
    "rhel": "dnf",
    "rocky": "dnf",
    "alma": "dnf",
    "oracle": "dnf",
    "centos-stream": "dnf",
    "fedora": "dnf",
    "amazonlinux": "dnf",
    "anolisos": "dnf",
    "opencloudos": "dnf",
    "openeuler": "dnf",
    "mageia": "urpmi",
    "opensuse": "zypper",
    "alpine": "apk",
    "archlinux": "pacman",
    "alt": "apt-rpm",
    "photon": "tdnf",
    "slackware": "slackpkg",
}

# Package managers that resolve an RPM soname capability such as 'libpq.so.5()(64bit)'.
RPM_CAPABILITY_INSTALLERS: dict[str, str] = {
    "dnf": "dnf install",
    "yum": "yum install",
    "zypper": "zypper install",
    "urpmi": "urpmi",
    "tdnf": "tdnf install",
    "apt-rpm": "apt-get install",
}

# Which library defines the version nodes of each namespace. A node of namespace N needed from library L is
# judged against the release's N nodes only when L is one of N's owners; otherwise the answer is unknown.
NAMESPACE_OWNERS: dict[str, frozenset[str]] = {
    "GLIBC": GLIBC_LIBRARIES,
    "GLIBCXX": frozenset({"libstdc++.so.6"}),
    "CXXABI": frozenset({"libstdc++.so.6"}),
    "GCC": frozenset({"libgcc_s.so.1"}),
    "LIBATOMIC": frozenset({"libatomic.so.1"}),
    "ZLIB": frozenset({"libz.so.1"}),
}

# The libraries read from a root filesystem to learn its version nodes (one per namespace is enough for all
# but GLIBC, where libm and libpthread define nodes libc does not, e.g. GLIBC_2.29 for exp and pow).
NODE_SOURCE_LIBRARIES: tuple[str, ...] = (
    *GLIBC_LINKED_PARTS,
    *(GLIBC_LOADERS[(arch, 64)].rsplit("/", 1)[1] for arch in ("x86_64", "aarch64")),
    "libstdc++.so.6",
    "libgcc_s.so.1",
    "libatomic.so.1",
    "libz.so.1",
)

# The dynamic loader a release's libc provides, per (libc, arch): what a binary's PT_INTERP must name.
# The loader a release of each (libc, architecture) has: the facts live in elfship.abi.
INTERPRETERS: dict[tuple[str, str], str] = {
    **{("glibc", arch): GLIBC_LOADERS[(arch, 64)] for arch in ("x86_64", "aarch64")},
    **{("musl", arch): musl_loader(arch) for arch in ("x86_64", "aarch64")},
}


def rpm_capability(soname: str, arch: str) -> str:
    """The RPM auto-generated 'provides' for a shared library: libpq.so.5()(64bit) on 64-bit arches."""
    return f"{soname}()(64bit)" if arch in ("x86_64", "aarch64", "ppc64le", "s390x", "riscv64") else soname
