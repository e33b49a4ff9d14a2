"""-sys crates that link a system C library: the one table of what each links, which sonames that gives a
program, which feature builds the library in, and what its build script reads to link statically.

Shared by `check` (the way out of "libpq.so.5 is not on the target") and `build` (static-link variables and
advice). Names of environment variables come from the crates' build scripts: openssl-sys reads
`<TRIPLE>_OPENSSL_STATIC` before `OPENSSL_STATIC`, pq-sys `PQ_LIB_STATIC_<TRIPLE>` after `PQ_LIB_STATIC`
(<TRIPLE> upper case, '-' -> '_'). Target-scoped names are preferred so host build scripts are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from elfship.record import record


@record
class NativeCrate:
    crate: str
    libraries: tuple[str, ...]  # what it links: -lpq, -lssl -lcrypto
    sonames: tuple[str, ...]  # what a program linked that way needs at run time
    static_env: tuple[str, ...]  # variables set to 1 to link statically; {TRIPLE} is the upper-case triple
    bundling_features: tuple[str, ...]  # any of these enabled: the C code is built from source, static
    hint: str  # the way out, in a few words, for a missing library
    fix: str  # how to make it self-contained, in full
    system_static_works: bool = True  # False: the system .a needs a chain of other libraries (libpq, mysql)


NATIVE_CRATES: tuple[NativeCrate, ...] = (
    NativeCrate(
        crate="openssl-sys",
        libraries=("ssl", "crypto"),
        sonames=("libssl.so.3", "libssl.so.1.1", "libcrypto.so.3", "libcrypto.so.1.1"),
        static_env=("{TRIPLE}_OPENSSL_STATIC",),
        bundling_features=("vendored",),
        hint="openssl feature `vendored`, or rustls instead of OpenSSL",
        fix='enable openssl\'s `vendored` feature (openssl = { version = "0.10", features = ["vendored"] }), '
        "or switch to rustls",
    ),
    NativeCrate(
        crate="pq-sys",
        libraries=("pq",),
        sonames=("libpq.so.5",),
        static_env=("PQ_LIB_STATIC_{TRIPLE}",),
        bundling_features=("bundled", "bundled_without_openssl"),
        hint="pq-sys feature `bundled`",
        fix='enable pq-sys\'s `bundled` feature (pq-sys 0.5 or later: pq-sys = { version = "0.7", '
        'features = ["bundled"] }; since 0.6 also add openssl-sys = { version = "0.9", features = ["vendored"] })',
        system_static_works=False,
    ),
    NativeCrate(
        crate="libsqlite3-sys",
        libraries=("sqlite3",),
        sonames=("libsqlite3.so.0",),
        static_env=("SQLITE3_STATIC",),
        bundling_features=("bundled", "bundled-sqlcipher", "bundled-sqlcipher-vendored-openssl"),
        hint="libsqlite3-sys feature `bundled`",
        fix='enable libsqlite3-sys\'s `bundled` feature (rusqlite: features = ["bundled"])',
    ),
    NativeCrate(
        crate="libz-sys",
        libraries=("z",),
        sonames=("libz.so.1",),
        static_env=("LIBZ_SYS_STATIC",),
        bundling_features=("static", "zlib-ng", "zlib-ng-no-cmake-experimental-community-maintained"),
        hint="libz-sys feature `static`",
        fix="enable libz-sys's `static` feature, or use flate2's pure-Rust default backend",
    ),
    NativeCrate(
        crate="curl-sys",
        libraries=("curl",),
        sonames=("libcurl.so.4",),
        static_env=(),  # curl-sys asks pkg-config; PKG_CONFIG_ALL_STATIC covers it
        bundling_features=("static-curl",),
        hint="curl-sys feature `static-curl`",
        fix="enable curl's `static-curl` and `static-ssl` features, or use reqwest with rustls",
    ),
    NativeCrate(
        crate="mysqlclient-sys",
        libraries=("mysqlclient",),
        sonames=("libmysqlclient.so.21",),
        static_env=("MYSQLCLIENT_STATIC",),
        bundling_features=("bundled",),
        hint="mysqlclient-sys feature `bundled`",
        fix="enable mysqlclient-sys's `bundled` feature (0.4.1 or later)",
        system_static_works=False,
    ),
)

BY_NAME: Mapping[str, NativeCrate] = {entry.crate: entry for entry in NATIVE_CRATES}
BY_SONAME: Mapping[str, NativeCrate] = {soname: entry for entry in NATIVE_CRATES for soname in entry.sonames}
