"""What a binary carries or loads: components, each with the evidence that names it and a confidence."""

from __future__ import annotations

from enum import Enum

from elfship.record import field, record


class Confidence(str, Enum):
    EXACT = "exact"  # recorded by the build itself (.dep-v0, Go build info, a -src crate's version)
    HIGH = "high"  # two independent signals in the file's contents agree
    HEURISTIC = "heuristic"  # one kind of signal only (registry paths in panic messages)


class ComponentKind(str, Enum):
    RUST_CRATE = "rust-crate"
    C_LIBRARY = "c-library"  # upstream C code linked into the file
    LIBC = "libc"  # the C library of a static binary
    SYSTEM_LIBRARY = "system-library"  # a shared library the loader maps for a dynamic program
    GO_MODULE = "go-module"
    TOOLCHAIN = "toolchain"  # rustc, the Go toolchain and its standard library, gcc


# Advisory ecosystems (OSV names) a component can be matched in; None = no advisory source knows it.
ECOSYSTEM_CRATES = "crates.io"
ECOSYSTEM_GO = "Go"
# Not an OSV name: RustSec's rust/std advisories, matched against the rustc whose std a binary links in.
ECOSYSTEM_RUST_STD = "rust-std"


@record
class Component:
    name: str
    version: str | None  # None when the file does not say (reported, never guessed)
    kind: ComponentKind
    confidence: Confidence
    evidence: tuple[str, ...]  # one line per signal, e.g. ".dep-v0 section", "text 'OpenSSL 3.0.19 ...'"
    purl: str | None = None
    cpe: str | None = None  # for upstream C libraries: what NVD-based scanners match on
    ecosystem: str | None = None  # OSV ecosystem when advisories for it exist (crates.io, Go, Debian:12)
    package: str | None = (
        None  # Debian package that ships a system library, or the crate that built a C library
    )
    source_package: str | None = None  # Debian source package (what Debian's advisories name)
    path: str | None = None  # system libraries: the file the loader maps
    dependencies: tuple[str, ...] = ()  # "name@version" of the crates this one uses (from .dep-v0)
    count: int = 0  # heuristic crates: how many registry paths named it

    @property
    def key(self) -> str:
        """Unique within an inventory: a program can carry two versions of one crate."""
        return f"{self.kind.value}:{self.name}@{self.version or ''}"


@record
class Inventory:
    """Everything one file carries or loads."""

    path: str
    file_kind: str  # elf Kind value: static, static-pie, dynamic, shared-library, ...
    sha256: str
    components: tuple[Component, ...]
    sources: tuple[str, ...]  # which readers found something: dep-v0, registry-paths, content, resolver, ...
    notes: tuple[str, ...] = field(default=())  # what could not be read, and why

    def of_kind(self, kind: ComponentKind) -> tuple[Component, ...]:
        return tuple(c for c in self.components if c.kind is kind)

    @property
    def embedded_c_libraries(self) -> tuple[Component, ...]:
        """Upstream C code inside the file: the CVEs its owner now answers for."""
        return self.of_kind(ComponentKind.C_LIBRARY)
