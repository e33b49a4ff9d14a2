"""What one Linux release (or one real root filesystem) offers to a binary."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from elfship.abi import highest_version, is_private_node, split_version_node
from elfship.record import field, record
from elfship.targets import data, packages
from elfship.targets.families import (
    INTERPRETERS,
    NAMESPACE_OWNERS,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    import datetime


def _day(iso: str | None) -> datetime.date | None:
    """A YYYY-MM-DD date of the data files as a date: datetime is imported only when a date is looked at
    (its 1.3 ms are a tenth of what `check --target` may take)."""
    if not iso:
        return None
    import datetime

    return datetime.date.fromisoformat(iso)


def _today(given: datetime.date | None) -> datetime.date:
    import datetime

    return given or datetime.date.today()


def _no_nodes() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({})


# Python wheel platform policies (manylinux_2_17, musllinux_1_2): targets that are not releases.
WHEEL_POLICY_KINDS = ("manylinux", "musllinux")

_NO_LIBRARIES: Mapping[str, frozenset[str] | None] = MappingProxyType({})
_UNMEASURED = frozenset({"<unmeasured>"})  # a sentinel: the library is not in the measured data


@record
class Target:
    """A release such as debian:10, or a root filesystem read from disk (kind == "root").

    Every fact is either measured (see `sources`) or None when nobody measured it: None never means "empty".
    """

    name: str  # canonical "family:version", e.g. debian:10, rhel:8, alpine:3.19, manylinux:2014
    family: str
    version: str
    aliases: tuple[str, ...]  # code names: bullseye, focal, sid, ...
    arch: str  # x86_64 | aarch64
    libc: str  # glibc | musl | none (a root with no libc at all)
    libc_version: str  # "2.28" for glibc, "1.2.4" for musl; "" when unknown
    # namespace -> versions the release's own libraries define: {"GLIBC": {"2.2.5", ...}, "GLIBCXX": {...}}
    version_nodes: Mapping[str, frozenset[str]] = field(default_factory=_no_nodes, hash=False)
    # end of life, of free long-term support, of commercial long-term support: YYYY-MM-DD (the properties
    # eol, lts_end and elts_end give them as dates)
    eol_iso: str | None = None
    lts_end_iso: str | None = None
    elts_end_iso: str | None = None
    rolling: bool = False
    base_sonames: frozenset[str] | None = None  # sonames a minbase/base image ships; None = not known
    # sonames base_sonames cannot settle either way (an inferred base: glibc's libraries that moved between
    # packages), and how the base was established when not measured ("inferred from its image manifest")
    base_open: frozenset[str] = frozenset()
    base_basis: str | None = None
    # the only sonames an inferred base can settle at all (an RPM image: the rows of a soname table); any other
    # soname is unknown there, never absent. None = base_sonames settles every soname.
    base_scope: frozenset[str] | None = None
    package_manager: str = ""  # apt | dnf | yum | zypper | apk | pacman | urpmi | tdnf | apt-rpm | slackpkg
    sources: tuple[str, ...] = ()  # where the facts came from (files, commands, URLs)
    kind: str = "release"  # release | manylinux | musllinux (wheel policies) | root (a real filesystem)
    kernel: str | None = None  # kernel the release ships (containers run on the host's kernel instead)
    isa_baseline: str | None = None  # lowest x86-64 level the release supports: x86-64, x86-64-v2, x86-64-v3
    package_index: str | None = None  # release whose package index answers package_for(); None = unknown
    # data file with every version node of every base library (Debian minbase roots); None = not measured
    node_file: str | None = None
    root: str | None = None  # the root filesystem path when kind == "root"

    # -- version nodes -------------------------------------------------------------------------------------

    def provides_version(self, library_soname: str, version_node: str) -> bool | None:
        """Does this target's `library_soname` define `version_node` (e.g. libm.so.6, GLIBC_2.29)?

        Exact where every node of the release's base libraries was measured (node_file): the loader looks
        the node up in that one library. A library with no version definitions at all provides nothing: ld.so
        only warns "no version information available", then stops at the first symbol bound to that version
        (an assertion in dl-lookup.c; before main with BIND_NOW).
        Otherwise True/False when the release's nodes for that namespace were measured (GLIBC, GLIBCXX, ...),
        None when not known (e.g. libssl.so.3's OPENSSL_3.0.0 on a release measured by namespace only).
        GLIBC_PRIVATE is never provided by a named release (it binds to one exact glibc build); a root
        provides it if its libc does.
        """
        if is_private_node(version_node) and self.kind != "root" and self._defines_nodes(library_soname):
            return False
        measured = self._library_nodes().get(library_soname, _UNMEASURED)
        if measured is not _UNMEASURED:
            return version_node in (measured or ())
        return self._provides_by_namespace(library_soname, version_node)

    def measured_libraries(self) -> int | None:
        """How many base libraries had every version node measured (node_file); None when none were."""
        return len(self._library_nodes()) if self.node_file else None

    def nodes_measured(self, library_soname: str) -> bool:
        """Were the version nodes of this very library on this release measured (not only its namespace)?"""
        return library_soname in self._library_nodes()

    def _library_nodes(self) -> Mapping[str, frozenset[str] | None]:
        return data.library_nodes(self.node_file) if self.node_file else _NO_LIBRARIES

    def _defines_nodes(self, library_soname: str) -> bool:
        measured = self._library_nodes().get(library_soname, _UNMEASURED)
        if measured is not _UNMEASURED:
            return measured is not None
        return any(library_soname in owners for owners in NAMESPACE_OWNERS.values())

    def _provides_by_namespace(self, library_soname: str, version_node: str) -> bool | None:
        namespace, version = split_version_node(version_node)
        owners = NAMESPACE_OWNERS.get(namespace)
        if owners is None or library_soname not in owners:
            return None
        if self.libc == "musl" and namespace == "GLIBC":
            return False  # musl defines no symbol versions at all
        nodes = self.version_nodes.get(namespace)
        if nodes is None:
            return None
        return version in nodes

    def highest_node(self, namespace: str) -> str | None:
        """The newest numeric version of a namespace, e.g. highest_node("GLIBC") == "2.28" on debian:10."""
        nodes = self.version_nodes.get(namespace)
        return highest_version(nodes) if nodes else None

    def highest_library_node(self, library_soname: str, namespace: str) -> str | None:
        """The newest numeric node of `namespace` that `library_soname` defines here (measured per library
        where it can be, else the release's newest of that namespace), e.g. XZ_5.4 -> "5.4"."""
        measured = self._library_nodes().get(library_soname, _UNMEASURED)
        if measured is _UNMEASURED:
            return self.highest_node(namespace)
        split = [split_version_node(node) for node in measured or ()]
        return highest_version({version for space, version in split if space == namespace})

    # -- libraries and packages ----------------------------------------------------------------------------

    def ships_soname(self, soname: str) -> bool | None:
        """Is `soname` in the base system? None when the base system's contents are not known."""
        if self.base_sonames is None or soname in self.base_open:
            return None
        if self.base_scope is not None and soname not in self.base_scope:
            return None
        return soname in self.base_sonames

    def package_for(self, soname: str) -> str | None:
        """The package of this release that ships `soname` (Debian: from the Contents index), else None.

        None means "not known": either the release's package index is not available or the soname is not
        in it. A package name is never guessed.
        """
        if self.package_index is None:
            return None
        return packages.package_in_index(self.package_index, soname)

    def package_hint(self, soname: str) -> tuple[str, str] | None:
        """(package, release) for `soname` from this release or the nearest release of the family whose
        package index is known, e.g. ("libpq5", "debian:11") for debian:10. None when nothing is known."""
        own = self.package_for(soname)
        if own is not None and self.package_index is not None:
            return own, self.package_index
        return packages.nearest_hint(self.family, self.version, soname)

    def install_command(self, soname: str) -> str | None:
        """The command that installs `soname` on this release, or None when it cannot be said for sure.

        apt: `apt-get install libpq5` (only with a known package); RPM families: the soname capability,
        `dnf install 'libpq.so.5()(64bit)'`; Alpine: `apk add so:libpq.so.5`.
        """
        return packages.install_command(self.package_manager, self.arch, soname, self.package_for(soname))

    # -- derived facts -------------------------------------------------------------------------------------

    @property
    def interpreter(self) -> str | None:
        """The dynamic loader path this release's libc provides (what PT_INTERP must name)."""
        return INTERPRETERS.get((self.libc, self.arch))

    @property
    def display_name(self) -> str:
        """Name plus arch (when not x86_64) and root path, for messages."""
        text = self.name if self.arch == "x86_64" else f"{self.name} ({self.arch})"
        return f"{text} [root {self.root}]" if self.root else text

    @property
    def eol(self) -> datetime.date | None:
        return _day(self.eol_iso)

    @property
    def lts_end(self) -> datetime.date | None:
        return _day(self.lts_end_iso)

    @property
    def elts_end(self) -> datetime.date | None:
        return _day(self.elts_end_iso)

    def is_supported(self, today: datetime.date | None = None) -> bool:
        """Not past its end-of-life date. Rolling releases and releases with unknown EOL are not "supported"
        in this sense: there is no date to hold them to."""
        day = _today(today)
        return self.eol is not None and not self.rolling and self.eol >= day

    def status(self, today: datetime.date | None = None) -> str:
        """One word for tables and JSON: supported | lts | elts | eol | rolling | unknown | policy.

        lts / elts: past the EOL date but still inside the free / commercial long-term support window.
        """
        day = _today(today)
        if self.kind in WHEEL_POLICY_KINDS:
            return "policy"  # a wheel platform policy has no end of life
        if self.rolling:
            return "rolling"
        if self.eol is None:
            return "unknown"
        if self.eol >= day:
            return "supported"
        if self.lts_end is not None and self.lts_end >= day:
            return "lts"
        if self.elts_end is not None and self.elts_end >= day:
            return "elts"
        return "eol"
