"""-sys crates in a build graph: what each needs for a static link under the chosen strategy, and advice.

The crates themselves (libraries, features, variables) are data in elfship.syscrates. The pkg-config crate
reads `PKG_CONFIG_ALL_STATIC_<triple>` before the plain name (<triple> lower case, '-' -> '_').
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from elfship.builder.strategy import Strategy
from elfship.record import record
from elfship.syscrates import BY_NAME, NativeCrate

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any


def triple_upper(triple: str) -> str:
    return triple.upper().replace("-", "_")


def triple_lower(triple: str) -> str:
    return triple.replace("-", "_")


def static_env(entry: NativeCrate, triple: str) -> tuple[tuple[str, str], ...]:
    """The variables that ask ENTRY's build script for a static link, for this target triple."""
    return tuple((template.format(TRIPLE=triple_upper(triple)), "1") for template in entry.static_env)


@record
class NativeDependency:
    """One -sys crate found in the build graph, and what that means for the chosen strategy."""

    crate: str
    version: str
    bundled: bool  # one of its bundling features is on: nothing to ask of this machine
    env: tuple[tuple[str, str], ...]
    severity: str  # "info": will link statically as is; "warning": will likely fail or not be self-contained
    advice: str | None  # what happens and which feature fixes it; None when bundled


def pkg_config_static_env(triple: str) -> tuple[tuple[str, str], ...]:
    return ((f"PKG_CONFIG_ALL_STATIC_{triple_lower(triple)}", "1"),)


def find_native_dependencies(
    resolved: Sequence[tuple[str, str, frozenset[str]]],
    strategy: Strategy,
    triple: str,
    static_library_available: Callable[[str], bool],
) -> tuple[NativeDependency, ...]:
    """resolved: (crate, version, enabled features) for every package cargo resolved for the target."""
    found = []
    for crate, version, features in sorted(resolved):
        entry = BY_NAME.get(crate)
        if entry is None:
            continue
        bundled = bool(features & set(entry.bundling_features))
        severity, advice = ("info", None) if bundled else _advice(entry, strategy, static_library_available)
        found.append(NativeDependency(crate, version, bundled, static_env(entry, triple), severity, advice))
    return tuple(found)


def _advice(entry: NativeCrate, strategy: Strategy, available: Callable[[str], bool]) -> tuple[str, str]:
    libs = " ".join(f"lib{name}.a" for name in entry.libraries)
    if strategy is Strategy.MUSL:
        why = f"{entry.crate} links this machine's {libs}, which is built for glibc, not musl"
    elif strategy is Strategy.GLIBC_PINNED:
        why = (
            f"{entry.crate} links this machine's lib{entry.libraries[0]}, built against this machine's newer "
            "glibc: the target would need the library installed, or the link needs symbols newer than the pin"
        )
    elif not all(available(name) for name in entry.libraries):
        missing = " ".join(f"lib{n}.a" for n in entry.libraries if not available(n))
        why = f"{entry.crate} needs {missing} for a static build and this machine has none"
    elif not entry.system_static_works:
        why = f"{entry.crate} with the system {libs} also needs every library that one links, in order"
    else:
        return (
            "info",
            f"{entry.crate} links the system {libs} statically (to build it from source: {entry.fix})",
        )
    return "warning", f"{why}: {entry.fix}"


def resolved_packages(metadata: Mapping[str, Any]) -> tuple[tuple[str, str, frozenset[str]], ...]:
    """(name, version, features) of every package in `cargo metadata`'s resolve graph."""
    by_id = {pkg["id"]: pkg for pkg in metadata.get("packages", ())}
    resolve = metadata.get("resolve") or {}
    packages = []
    for node in resolve.get("nodes", ()):
        pkg = by_id.get(node["id"])
        if pkg is not None:
            packages.append((pkg["name"], pkg["version"], frozenset(node.get("features", ()))))
    return tuple(packages)
