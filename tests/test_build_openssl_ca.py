"""build warns when the binary carries its own OpenSSL, whose CA-certificate location (OPENSSLDIR) is this
machine's: read from the binary, checked against what the binary itself reports."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from elfship.builder.openssl import ca_directory_warning, static_openssl_dir
from tests.support.fixtures import build_c
from tests.test_build_e2e import build_json

LIBCRYPTO_A = Path("/usr/lib/x86_64-linux-gnu/libcrypto.a")


def require_libcrypto_a() -> None:
    if not LIBCRYPTO_A.is_file():
        pytest.skip("libcrypto.a not installed (apt-get install libssl-dev)")


def reported_dir(binary: Path) -> str:
    """What OpenSSL_version(OPENSSL_DIR) returns in the program: `OPENSSLDIR: "<dir>"`."""
    line = subprocess.run([binary], capture_output=True, text=True, check=True).stdout.strip()
    assert line.startswith('OPENSSLDIR: "') and line.endswith('"'), line
    return line[len('OPENSSLDIR: "') : -1]


def test_the_compiled_in_dir_of_a_static_openssl_is_read() -> None:
    require_libcrypto_a()
    binary = build_c(
        "openssl_dir.c", ldflags=["-static", "-lcrypto", "-lpthread"], out_name="openssl_dir_static"
    )
    assert static_openssl_dir(binary) == reported_dir(binary)
    (finding,) = ca_directory_warning(binary)
    assert finding.kind == "static-openssl-ca" and finding.severity == "warning"
    assert f"{reported_dir(binary)}/cert.pem" in finding.message
    assert finding.fix is not None and "SSL_CERT_FILE" in finding.fix and "openssl-probe" in finding.fix


def test_a_shared_libssl_is_not_the_binarys_own(tmp_path: Path) -> None:
    require_libcrypto_a()
    binary = build_c("openssl_dir.c", ldflags=["-lcrypto"], out_name="openssl_dir_dynamic")
    assert reported_dir(binary)  # the shared library has a dir, the binary does not carry it
    assert static_openssl_dir(binary) is None and ca_directory_warning(binary) == ()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert static_openssl_dir(empty) is None


@pytest.mark.slow
def test_build_warns_when_it_links_openssl_statically(tmp_path: Path) -> None:
    """openssl-sys against Debian's libssl.a, glibc-static: the warning reaches build's JSON."""
    require_libcrypto_a()
    document = build_json("opensslsys", "--strategy", "glibc-static", "-o", str(tmp_path))
    (artifact,) = document["artifacts"]  # type: ignore[misc]
    kinds = {f["kind"]: f for f in artifact["findings"]}
    assert "static-openssl-ca" in kinds, artifact["findings"]
    assert static_openssl_dir(Path(artifact["path"])) in kinds["static-openssl-ca"]["message"]
