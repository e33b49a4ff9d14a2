"""check reports run-time needs the loader does not see (check/runtime.py), each judged against real roots and
against the program's own behaviour there:

- static-openssl-ca: a static OpenSSL's compiled-in OPENSSLDIR (read back from the program itself) against
  each family's CA locations and a root's files;
- may-dlopen: sonames a program loads by name, present or absent in a Debian 12 root (the program's own
  dlopen there is the truth);
- static-gconv: a static glibc's iconv needs gconv modules (a root with them converts, an empty root cannot).

The diesel app over real TLS is tests/test_build_diesel.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from elfship.check import check_path, check_root
from elfship.check.model import CheckResult, Finding
from elfship.targets import get_target
from tests.support.fixtures import build_c, debian_root, run_in_root
from tests.test_build_openssl_ca import reported_dir, require_libcrypto_a

GCONV = "/usr/lib/x86_64-linux-gnu/gconv"


def only(result: CheckResult, kind: str) -> Finding:
    (finding,) = [f for f in result.findings if f.kind == kind]
    return finding


def summary(finding: Finding) -> tuple[str, str, dict[str, object]]:
    return finding.kind, finding.severity.value, dict(finding.evidence)


@pytest.fixture(scope="module")
def static_openssl() -> Path:
    require_libcrypto_a()
    return build_c(
        "openssl_dir.c", ldflags=["-static", "-lcrypto", "-lpthread"], out_name="openssl_dir_static"
    )


@pytest.fixture(scope="module")
def bookworm() -> Path:
    return debian_root("bookworm")


def test_a_static_openssl_is_judged_against_each_familys_ca_locations(static_openssl: Path) -> None:
    directory = reported_dir(static_openssl)  # what the program itself says: Debian's libssl.a, /usr/lib/ssl
    assert directory == "/usr/lib/ssl"
    facts = {"openssl_dir": directory, "cert_file": f"{directory}/cert.pem", "cert_dir": f"{directory}/certs"}
    debian = only(check_path(str(static_openssl), get_target("debian:12")), "static-openssl-ca")
    assert summary(debian) == (
        "static-openssl-ca", "info", {**facts, "ca_bundle": "/etc/ssl/certs/ca-certificates.crt", "found": True},
    )  # fmt: skip
    assert debian.fix is None
    for name, bundle in (
        ("rhel:9", "/etc/pki/tls/certs/ca-bundle.crt"),
        ("alpine:3.19", "/etc/ssl/cert.pem"),
    ):
        finding = only(check_path(str(static_openssl), get_target(name)), "static-openssl-ca")
        assert summary(finding) == (
            "static-openssl-ca",
            "warning",
            {**facts, "ca_bundle": bundle, "found": False},
        )
        assert finding.fix is not None and f"SSL_CERT_FILE={bundle}" in finding.fix
        assert "openssl-probe" in finding.fix and "rustls" in finding.fix


def test_a_static_openssl_is_judged_against_a_roots_files(static_openssl: Path, tmp_path: Path) -> None:
    # Debian 12 minbase has no openssl package: no /usr/lib/ssl and no bundle at all.
    bare = only(check_root(str(static_openssl), debian_root("bookworm")), "static-openssl-ca")
    assert (bare.severity.value, bare.evidence["found"], bare.evidence["ca_bundle"]) == (
        "warning",
        False,
        None,
    )
    assert bare.fix is not None and bare.fix.startswith("install the CA certificates")
    # A root that keeps its bundle where RHEL does: named in the fix.
    rhel_like = tmp_path / "rhel"
    (rhel_like / "etc/pki/tls/certs").mkdir(parents=True)
    (rhel_like / "etc/pki/tls/certs/ca-bundle.crt").write_text("")
    finding = only(check_root(str(static_openssl), rhel_like), "static-openssl-ca")
    assert (finding.severity.value, finding.evidence["ca_bundle"]) == (
        "warning",
        "/etc/pki/tls/certs/ca-bundle.crt",
    )
    assert finding.fix is not None and "SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt" in finding.fix
    # Debian's layout: /usr/lib/ssl/certs is there (a symlink to /etc/ssl/certs, resolved inside the root).
    debian_like = tmp_path / "debian"
    (debian_like / "etc/ssl/certs").mkdir(parents=True)
    (debian_like / "usr/lib/ssl").mkdir(parents=True)
    (debian_like / "usr/lib/ssl/certs").symlink_to("/etc/ssl/certs")
    found = only(check_root(str(static_openssl), debian_like), "static-openssl-ca")
    assert (found.severity.value, found.evidence["found"], found.fix) == ("info", True, None)


def test_a_symlink_out_of_the_root_is_not_followed(static_openssl: Path, tmp_path: Path) -> None:
    """/usr/lib/ssl -> /usr/lib/ssl would exist on this machine: inside the root it must not."""
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/ssl").symlink_to("../../../../../../../../usr/lib/ssl")
    finding = only(check_root(str(static_openssl), root), "static-openssl-ca")
    assert (finding.severity.value, finding.evidence["found"]) == ("warning", False)


def test_no_openssl_inside_no_finding() -> None:
    require_libcrypto_a()
    dynamic = build_c("openssl_dir.c", ldflags=["-lcrypto"], out_name="openssl_dir_dynamic")
    assert [
        f for f in check_path(str(dynamic), get_target("debian:12")).findings if f.kind == "static-openssl-ca"
    ] == []


def test_sonames_loaded_by_name_are_reported_with_their_presence(bookworm: Path) -> None:
    program = build_c("runtime_loads.c", out_name="runtime_loads")
    truth = run_in_root(bookworm, program, "--dlopen")
    assert truth.stdout == "libz.so.1: loaded\nlibpq.so.5: not found\n", truth.stderr
    libraries = [{"soname": "libz.so.1", "present": True}, {"soname": "libpq.so.5", "present": False}]
    for result in (check_root(str(program), bookworm), check_path(str(program), get_target("debian:12"))):
        finding = only(result, "may-dlopen")
        assert summary(finding) == ("may-dlopen", "warning", {"libraries": libraries})
        assert "may be loaded at run time" in finding.message and "not in DT_NEEDED" in finding.message
        assert finding.fix is not None and "libpq.so.5" in finding.fix and "libz.so.1" not in finding.fix
        assert result.verdict == "runs"  # a name in its strings never stops the start


def test_a_static_glibcs_iconv_needs_gconv_modules(bookworm: Path, tmp_path: Path) -> None:
    program = build_c("runtime_loads.c", ldflags=["-static"], out_name="runtime_loads_static")
    assert run_in_root(bookworm, program, "EUC-JP").stdout == "iconv EUC-JP: ok\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy2(program, empty / "runtime_loads_static")
    alone = subprocess.run(
        ["chroot", str(empty), "/runtime_loads_static", "EUC-JP"], capture_output=True, text=True, timeout=30
    )
    assert (alone.returncode, alone.stdout) == (1, "iconv EUC-JP: unavailable\n")
    has = only(check_root(str(program), bookworm), "static-gconv")
    assert summary(has) == ("static-gconv", "warning", {"gconv_dir": GCONV, "present": True})
    lacks = only(check_root(str(program), empty), "static-gconv")
    assert summary(lacks) == ("static-gconv", "warning", {"gconv_dir": GCONV, "present": False})
    named = only(check_path(str(program), get_target("debian:12")), "static-gconv")
    assert summary(named) == ("static-gconv", "warning", {"gconv_dir": GCONV, "present": None})
    assert named.fix is not None and "musl" in named.fix and "GCONV_PATH" in named.fix


def test_a_dynamic_program_with_iconv_has_no_gconv_finding() -> None:
    program = build_c("runtime_loads.c", out_name="runtime_loads")
    assert [
        f for f in check_path(str(program), get_target("debian:12")).findings if f.kind == "static-gconv"
    ] == []
