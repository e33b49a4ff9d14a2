"""A statically linked OpenSSL carries the CA-certificate location of the machine that built it.

OpenSSL looks for trusted certificates in `OPENSSLDIR/cert.pem` and `OPENSSLDIR/certs/`, a path compiled in
(openssl-src's `vendored` build: `/usr/local/ssl`; Debian's libssl.a: `/usr/lib/ssl`). Linked into the
binary, that path travels to servers where it may not exist (RHEL: `/etc/pki/tls`, Alpine: `/etc/ssl`), and TLS
verification fails there at run time although the binary loads (rust-musl-builder#21, rust-openssl#829).
OpenSSL records the path as the string `OPENSSLDIR: "<dir>"` (`OpenSSL_version(OPENSSL_DIR)`), which is the
evidence read (sbom/runtime_strings.py, shared with check): present in the binary means OpenSSL is in the binary, not in a shared libssl.
"""

from __future__ import annotations

import os

from elfship.check.model import STATIC_OPENSSL_CA, Finding, Severity
from elfship.sbom.runtime_strings import read_runtime_strings


def static_openssl_dir(path: str | os.PathLike[str]) -> str | None:
    """The OPENSSLDIR compiled into the binary, or None when it carries no OpenSSL of its own."""
    return read_runtime_strings(path).openssl_dir


def ca_directory_warning(path: str | os.PathLike[str]) -> tuple[Finding, ...]:
    directory = static_openssl_dir(path)
    if directory is None:
        return ()
    return (
        Finding.make(
            STATIC_OPENSSL_CA,
            Severity.WARNING,
            f"links OpenSSL statically: it looks for CA certificates in {directory}/cert.pem and "
            f"{directory}/certs (its OPENSSLDIR, fixed when it was compiled); where a server keeps them elsewhere "
            "(Debian/Ubuntu /etc/ssl/certs/ca-certificates.crt, RHEL /etc/pki/tls/certs/ca-bundle.crt, "
            "Alpine /etc/ssl/cert.pem) TLS certificate verification fails",
            "call openssl-probe's init_openssl_env_vars() at start-up, or set SSL_CERT_FILE on the server, "
            "or use rustls with the platform's roots (rustls-native-certs)",
        ),
    )
