"""-sys crates that link a system C library: what each reads to link statically, and which feature bundles it.

Each entry is data. Names of environment variables come from the crates' build scripts: openssl-sys reads
`<TRIPLE>_OPENSSL_STATIC` before `OPENSSL_STATIC`, pq-sys `PQ_LIB_STATIC_<TRIPLE>` after `PQ_LIB_STATIC`,
the pkg-config crate `PKG_CONFIG_ALL_STATIC_<triple>` before the plain name (<TRIPLE> upper case, '-' -> '_').
Target-scoped names are preferred so host build scripts are left alone where the crate allows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from elfship.build.strategy import Strategy


def triple_upper(triple: str) -> str:
    return triple.upper().replace("-", "_")


def triple_lower(triple: str) -> str:
    return triple.replace("-", "_")


@dataclass(frozen=True)
class NativeCrate:
    crate: str
    libraries: tuple[str, ...]  # what it links: -lpq, -lssl -lcrypto
    static_env: Callable[
        [str], tuple[tuple[str, str], ...]
    ]  # triple -> variables that ask for static linking
    bundling_features: tuple[str, ...]  # any of these enabled: the C code is built from source, static
    fix: str  # how to make it self-contained
    system_static_works: bool = True  # False: the system .a needs a chain of other libraries (libpq, mysql)


def _openssl_env(triple: str) -> tuple[tuple[str, str], ...]:
    return ((f"{triple_upper(triple)}_OPENSSL_STATIC", "1"),)


def _pq_env(triple: str) -> tuple[tuple[str, str], ...]:
    return ((f"PQ_LIB_STATIC_{triple_upper(triple)}", "1"),)


def _plain(name: str) -> Callable[[str], tuple[tuple[str, str], ...]]:
    def env(_triple: str) -> tuple[tuple[str, str], ...]:
        return ((name, "1"),)

    return env


def _none(_triple: str) -> tuple[tuple[str, str], ...]:
    return ()


NATIVE_CRATES: tuple[NativeCrate, ...] = (
    NativeCrate(
        crate="openssl-sys",
        libraries=("ssl", "crypto"),
        static_env=_openssl_env,
        bundling_features=("vendored",),
        fix='enable openssl\'s `vendored` feature (openssl = { version = "0.10", features = ["vendored"] }), '
        "or switch to rustls",
    ),
    NativeCrate(
        crate="pq-sys",
        libraries=("pq",),
        static_env=_pq_env,
        bundling_features=("bundled", "bundled_without_openssl"),
        fix='enable pq-sys\'s `bundled` feature (pq-sys 0.5 or later: pq-sys = { version = "0.7", '
        'features = ["bundled"] }; since 0.6 also add openssl-sys = { version = "0.9", features = ["vendored"] })',
        system_static_works=False,
    ),
    NativeCrate(
        crate="libsqlite3-sys",
        libraries=("sqlite3",),
        static_env=_plain("SQLITE3_STATIC"),
        bundling_features=("bundled", "bundled-sqlcipher", "bundled-sqlcipher-vendored-openssl"),
        fix='enable libsqlite3-sys\'s `bundled` feature (rusqlite: features = ["bundled"])',
    ),
    NativeCrate(
        crate="libz-sys",
        libraries=("z",),
        static_env=_plain("LIBZ_SYS_STATIC"),
        bundling_features=("static", "zlib-ng", "zlib-ng-no-cmake-experimental-community-maintained"),
        fix="enable libz-sys's `static` feature, or use flate2's pure-Rust default backend",
    ),
    NativeCrate(
        crate="curl-sys",
        libraries=("curl",),
        static_env=_none,  # curl-sys asks pkg-config; PKG_CONFIG_ALL_STATIC covers it
        bundling_features=("static-curl",),
        fix="enable curl's `static-curl` and `static-ssl` features, or use reqwest with rustls",
    ),
    NativeCrate(
        crate="mysqlclient-sys",
        libraries=("mysqlclient",),
        static_env=_plain("MYSQLCLIENT_STATIC"),
        bundling_features=("bundled",),
        fix="enable mysqlclient-sys's `bundled` feature (0.4.1 or later)",
        system_static_works=False,
    ),
)

BY_NAME: Mapping[str, NativeCrate] = {entry.crate: entry for entry in NATIVE_CRATES}


@dataclass(frozen=True)
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
        found.append(NativeDependency(crate, version, bundled, entry.static_env(triple), severity, advice))
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
