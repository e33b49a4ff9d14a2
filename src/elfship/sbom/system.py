"""The shared libraries a dynamic program loads (from the resolver) and the Debian package of each."""

from __future__ import annotations

from elfship.elf.model import ElfInfo
from elfship.resolve import Resolver
from elfship.sbom.dpkg import database
from elfship.sbom.model import Component, ComponentKind, Confidence
from elfship.sbom.purl import purl


def system_libraries(info: ElfInfo, root: str | None) -> tuple[list[Component], list[str]]:
    """Components for every library the loader would map, and notes for the ones it would not find."""
    resolution = Resolver(root).resolve_info(info.path, info)
    dpkg = database(root)
    distro = dpkg.distro()
    ecosystem = f"Debian:{distro.version_id}" if distro and distro.id == "debian" else None
    components: list[Component] = []
    loaded = list(resolution.libraries)
    if resolution.interpreter is not None and not any(
        lib.path == resolution.interpreter.path for lib in loaded
    ):
        loaded.append(resolution.interpreter)
    for lib in loaded:
        if lib.path is None:
            continue
        package = dpkg.owner(lib.path)
        evidence = [f"loaded by the dynamic loader ({lib.found_via}) as {lib.path}"]
        qualifiers: dict[str, str] = {}
        if package is not None:
            evidence.append(f"dpkg: shipped by {package.name} {package.version}")
            qualifiers = {"arch": package.architecture} if package.architecture else {}
            if distro is not None:
                qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
        components.append(
            Component(
                name=lib.soname,
                version=package.version if package else None,
                kind=ComponentKind.SYSTEM_LIBRARY,
                confidence=Confidence.EXACT,
                evidence=tuple(evidence),
                purl=purl("deb/debian", package.name, package.version, **qualifiers) if package else None,
                ecosystem=ecosystem if package else None,
                package=package.name if package else None,
                source_package=package.source if package else None,
                path=lib.path,
            )
        )
    notes = [f"{lib.soname}: not found by the loader (not in this inventory)" for lib in resolution.missing]
    return components, [*notes, *resolution.warnings]
