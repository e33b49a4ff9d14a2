"""Where each family keeps its trusted CA certificates (with its ca-certificates package installed).

`bundle`: the one PEM file of all roots (what SSL_CERT_FILE should name there). `found_by`: the paths an
OpenSSL finds them through on that family: its own OPENSSLDIR's cert.pem / certs (the distribution's
libssl is built with the OPENSSLDIR that points there) and the bundle's directory. A statically linked
OpenSSL whose cert.pem and certs are none of these finds no roots there.
Sources: each distribution's ca-certificates / openssl packaging (Debian's /usr/lib/ssl/certs ->
/etc/ssl/certs; Fedora/RHEL update-ca-trust's /etc/pki/tls; Alpine's and Arch's /etc/ssl; SUSE's
/var/lib/ca-certificates via /etc/ssl).
"""

from __future__ import annotations

from elfship.record import record


@record
class CaLocations:
    bundle: str
    found_by: frozenset[str]


_DEBIAN = CaLocations(
    "/etc/ssl/certs/ca-certificates.crt",
    frozenset(
        {
            "/usr/lib/ssl/cert.pem",
            "/usr/lib/ssl/certs",
            "/etc/ssl/certs",
            "/etc/ssl/certs/ca-certificates.crt",
        }
    ),
)
_RHEL = CaLocations(
    "/etc/pki/tls/certs/ca-bundle.crt",
    frozenset({"/etc/pki/tls/cert.pem", "/etc/pki/tls/certs", "/etc/pki/tls/certs/ca-bundle.crt"}),
)
_ALPINE = CaLocations("/etc/ssl/cert.pem", frozenset({"/etc/ssl/cert.pem", "/etc/ssl/certs"}))
_ARCH = CaLocations(
    "/etc/ssl/certs/ca-certificates.crt",
    frozenset({"/etc/ssl/cert.pem", "/etc/ssl/certs", "/etc/ssl/certs/ca-certificates.crt"}),
)
_SUSE = CaLocations("/etc/ssl/ca-bundle.pem", frozenset({"/etc/ssl/certs", "/etc/ssl/ca-bundle.pem"}))

CA_LOCATIONS: dict[str, CaLocations] = {
    "debian": _DEBIAN,
    "ubuntu": _DEBIAN,
    "rhel": _RHEL,
    "centos-stream": _RHEL,
    "alma": _RHEL,
    "rocky": _RHEL,
    "oracle": _RHEL,
    "fedora": _RHEL,
    "amazonlinux": _RHEL,
    "anolisos": _RHEL,
    "opencloudos": _RHEL,
    "openeuler": _RHEL,
    "mageia": _RHEL,
    "alpine": _ALPINE,
    "archlinux": _ARCH,
    "opensuse": _SUSE,
}

# Every bundle any family keeps: in a root of unknown family, the first that exists is the one to name.
KNOWN_BUNDLES = tuple(dict.fromkeys(loc.bundle for loc in CA_LOCATIONS.values()))


def ca_locations(family: str) -> CaLocations | None:
    """The family's CA locations; None when not known (the finding then says so, never guesses)."""
    return CA_LOCATIONS.get(family)
