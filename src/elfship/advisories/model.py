"""Advisories as elfship holds them, whatever format they came from."""

from __future__ import annotations

from elfship.record import field, record


@record
class Interval:
    """Versions v with introduced <= v and (v < fixed, or v <= last_affected); None = unbounded."""

    introduced: str | None
    fixed: str | None = None
    last_affected: str | None = None


@record
class Affected:
    ecosystem: str  # OSV ecosystem name: crates.io, Go, Debian:12, ...
    package: str
    # Either OSV intervals/versions, or Cargo requirements (RustSec): affected = not patched, not unaffected.
    intervals: tuple[Interval, ...] = ()
    versions: tuple[str, ...] = ()
    patched: tuple[str, ...] = ()  # Cargo requirement strings (">= 300.0.12", "^0.9.80")
    unaffected: tuple[str, ...] = ()
    cargo_requirements: bool = (
        False  # True: use patched/unaffected (RustSec), False: intervals/versions (OSV)
    )

    def fixed_versions(self) -> tuple[str, ...]:
        if self.cargo_requirements:
            return self.patched
        return tuple(i.fixed for i in self.intervals if i.fixed)


@record
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    url: str | None
    affected: tuple[Affected, ...]
    informational: str | None = None  # RustSec: "unmaintained", "unsound", "notice": listed, not a failure
    source: str = ""  # the file it was read from


@record
class Database:
    path: str
    format: str  # "rustsec" or "osv"
    advisories: tuple[Advisory, ...]
    skipped: tuple[str, ...] = field(default=())  # files that could not be read, and why

    @property
    def ecosystems(self) -> frozenset[str]:
        return frozenset(a.ecosystem for adv in self.advisories for a in adv.affected)

    def by_package(self) -> dict[tuple[str, str], list[tuple[Advisory, Affected]]]:
        index: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = {}
        for advisory in self.advisories:
            for affected in advisory.affected:
                index.setdefault((affected.ecosystem, affected.package), []).append((advisory, affected))
        return index
