"""C libraries named by the crates that build them: `openssl-src 300.2.3+3.2.1` is OpenSSL 3.2.1.

-src crates (and some -sys crates) put the upstream version in semver build metadata. Crates whose version
does not say (libsqlite3-sys, libz-sys) only tell that they *may* bundle the library; the content scan says
whether they did, and which version.
"""

from __future__ import annotations

import re

from elfship.record import record

# crate -> (upstream component name, NVD vendor:product)
UPSTREAM = {
    "openssl-src": ("openssl", "openssl:openssl"),
    "pq-src": ("libpq", "postgresql:postgresql"),
    "curl-sys": ("curl", "haxx:libcurl"),
    "libz-sys": ("zlib", "gnu:zlib"),
    "libz-ng-sys": ("zlib-ng", "zlib-ng:zlib-ng"),
    "libsqlite3-sys": ("sqlite", "sqlite:sqlite"),
    "zstd-sys": ("zstd", "facebook:zstandard"),
    "bzip2-sys": ("bzip2", "bzip:bzip2"),
    "lzma-sys": ("xz", "tukaani:xz"),
    "libgit2-sys": ("libgit2", "libgit2_project:libgit2"),
    "libssh2-sys": ("libssh2", "libssh2:libssh2"),
    "libnghttp2-sys": ("nghttp2", "nghttp2:nghttp2"),
    "openssl-sys": ("openssl", "openssl:openssl"),
}
# "300.2.3+3.2.1", "0.3.10+libpq-18.0", "0.4.80+curl-8.12.1", "2.0.15+zstd.1.5.7", "0.1.13+1.0.8"
METADATA_VERSION = re.compile(r"\+(?:[A-Za-z][A-Za-z0-9]*[-.])?(\d+(?:\.\d+){0,3}[a-z]?)$")


@record
class Upstream:
    name: str
    version: str | None  # None: the crate's version does not carry it
    crate: str
    crate_version: str
    cpe_vendor_product: str


def upstream_of(crate: str, version: str) -> Upstream | None:
    """The C library a crate builds, with the upstream version when the crate's version carries it."""
    known = UPSTREAM.get(crate)
    if known is None:
        return None
    match = METADATA_VERSION.search(version)
    return Upstream(known[0], match.group(1) if match else None, crate, version, known[1])
