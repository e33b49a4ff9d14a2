"""Which advisories apply to which components. Ranges are evaluated by univers (Cargo requirements through its
npm-compatible parser: same caret/tilde semantics; OSV intervals through vers ranges of each ecosystem)."""

from __future__ import annotations

import re
from typing import Any

from elfship.advisories.model import Advisory, Affected, Database, Interval
from elfship.errors import ToolMissingError
from elfship.record import record
from elfship.sbom.model import ECOSYSTEM_RUST_STD, Component, ComponentKind, Inventory

# OSV ecosystem -> vers scheme (univers)
SCHEMES = {"crates.io": "cargo", "Go": "golang", ECOSYSTEM_RUST_STD: "cargo"}
DEBIAN = "Debian:"
NO_ECOSYSTEM = {
    ComponentKind.C_LIBRARY: "upstream C code found by content: no package ecosystem's advisories name it",
    ComponentKind.LIBC: "the libc inside a static binary: its version is not recorded, no advisory names it",
    ComponentKind.TOOLCHAIN: "a compiler: advisories about it are not package advisories",
    ComponentKind.RUST_CRATE: "a crate from outside a registry (path or git): no advisory names it",
    ComponentKind.SYSTEM_LIBRARY: "no dpkg record of the package that ships it",
}


@record
class Finding:
    advisory: Advisory
    component: Component
    fixed: tuple[str, ...]
    fix: str  # what to do, in elfship's words


@record
class AuditResult:
    inventory: Inventory
    findings: tuple[Finding, ...]
    not_covered: tuple[tuple[Component, str], ...]  # (component, why no advisory source covers it)
    checked: int  # components this database could speak about

    @property
    def vulnerable(self) -> bool:
        return any(f.advisory.informational is None for f in self.findings)


def audit(inventory: Inventory, database: Database) -> AuditResult:
    index = database.by_package()
    ecosystems = database.ecosystems
    findings: list[Finding] = []
    not_covered: list[tuple[Component, str]] = []
    checked = 0
    for component in inventory.components:
        why = _uncovered(component, ecosystems, database.format)
        if why is not None:
            not_covered.append((component, why))
            continue
        checked += 1
        assert component.ecosystem is not None and component.version is not None
        name = component.source_package if component.ecosystem.startswith(DEBIAN) else component.name
        for advisory, affected in index.get((component.ecosystem, name or component.name), []):
            if affects(affected, component.version):
                fixed = affected.fixed_versions()
                findings.append(Finding(advisory, component, fixed, fix_text(component, fixed)))
    return AuditResult(inventory, tuple(findings), tuple(not_covered), checked)


def _uncovered(component: Component, ecosystems: frozenset[str], format: str) -> str | None:
    if component.kind is ComponentKind.C_LIBRARY and component.package:
        return f"upstream code built by crate {component.package}: advisories on that crate cover it"
    if component.ecosystem is None:
        return NO_ECOSYSTEM.get(component.kind, "no advisory ecosystem names it")
    if component.version is None:
        return "its version is not recorded in the file"
    if component.ecosystem not in ecosystems:
        return f"this {format} database has no {component.ecosystem} advisories"
    return None


def affects(affected: Affected, version: str) -> bool:
    """Is this installed version inside the advisory's affected range?"""
    if affected.cargo_requirements:
        # SemVer precedence ignores build metadata ("300.2.3+3.2.1" is 300.2.3), as Cargo does.
        parsed = _semver(version.split("+", 1)[0])
        return not any(_in_cargo_requirement(parsed, r) for r in (*affected.patched, *affected.unaffected))
    scheme = _scheme(affected.ecosystem)
    bare = version.removeprefix("v") if scheme == "golang" else version
    if scheme == "cargo":
        bare = bare.split("+", 1)[0]
    if bare in affected.versions or version in affected.versions:
        return True
    return any(_in_interval(scheme, i, bare) for i in affected.intervals)


def _univers() -> Any:
    try:
        import univers.version_range as ranges
    except ImportError:
        raise ToolMissingError("univers is not installed", fix="pip install univers") from None
    return ranges


def _semver(version: str) -> Any:
    from univers.versions import SemverVersion

    return SemverVersion(version)


def _in_cargo_requirement(version: Any, requirement: str) -> bool:
    """A Cargo requirement (comma = and; bare version = caret) through univers' npm parser."""
    parts = []
    for comparator in requirement.split(","):
        comparator = re.sub(r"([<>=~^]+)\s+", r"\1", comparator.strip())
        if comparator and comparator[0].isdigit():
            comparator = "^" + comparator
        parts.append(comparator)
    version_range = _univers().NpmVersionRange.from_native(" ".join(parts))
    return bool(version in version_range)


def _scheme(ecosystem: str) -> str:
    if ecosystem.startswith(DEBIAN):
        return "deb"
    return SCHEMES.get(ecosystem, "generic")


def _in_interval(scheme: str, interval: Interval, version: str) -> bool:
    bounds = []
    if interval.introduced:
        bounds.append(f">={interval.introduced}")
    if interval.fixed:
        bounds.append(f"<{interval.fixed}")
    elif interval.last_affected:
        bounds.append(f"<={interval.last_affected}")
    if not bounds:
        return True  # introduced at 0, never fixed
    ranges = _univers()
    try:
        version_range = ranges.VersionRange.from_string(f"vers:{scheme}/" + "|".join(bounds))
        return bool(version_range.version_class(version) in version_range)
    except (ValueError, TypeError):
        return False  # a version string this scheme cannot parse: not provably affected


def fix_text(component: Component, fixed: tuple[str, ...]) -> str:
    wanted = " or ".join(fixed) if fixed else "a fixed release (none published yet)"
    if component.kind is ComponentKind.RUST_CRATE:
        return (
            f"rebuild with {component.name} {wanted}: `cargo update -p {component.name}`, "
            "then `elfship build ...`"
        )
    if component.kind is ComponentKind.SYSTEM_LIBRARY and component.package:
        return (
            f"upgrade {component.package} ({component.source_package} {wanted}) where it runs: "
            f"`apt-get install --only-upgrade {component.package}` (the distribution's fix reaches every "
            "program that loads it)"
        )
    if component.kind is ComponentKind.GO_MODULE:
        return f"rebuild with {component.name} {wanted}: `go get {component.name}@latest`, then `go build`"
    if component.name == "stdlib":
        return f"rebuild with Go {wanted}"
    if component.name == "rustc":
        return f"rebuild with Rust {wanted} (its std is linked in): `rustup update`, then `elfship build ...`"
    return f"update {component.name} to {wanted} and rebuild"
