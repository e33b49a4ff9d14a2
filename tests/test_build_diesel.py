"""The founding story exactly: a diesel app (`postgres` feature, pq-sys `bundled`, openssl-sys `vendored`) built
`--strategy musl --build-std`, `glibc-static` and `glibc-pinned --for debian:10`, connecting over TCP with TLS
(sslmode=verify-full, the system's roots: sslrootcert=system) to a real PostgreSQL server that only accepts TLS,
whose certificate a test CA generated here signed.

The static OpenSSL looks for roots in openssl-src's /usr/local/ssl: `check` says so with the fix, the
connection fails without it (certificate verify failed), and SSL_CERT_FILE naming the root's bundle makes it
work, in an empty root holding only the binary and /etc/ssl/certs, and in a Debian 11 root (an overlay adds
the bundle, the shared cached root is never written).

Each strategy builds once per session, in the target dirs pgapp's tests already fill (same openssl-src and
pq-src): the cold cost is diesel's crates only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_build_e2e import CARGO_FIXTURES, elfship
from tests.test_build_musl import MUSL_TARGET_DIR, build_std_tools
from tests.test_build_pgapp import TARGET_DIR, _as_postgres, _free_port, _postgres_bin, bullseye

__all__ = ["build_std_tools", "bullseye"]  # module fixtures used here

pytestmark = pytest.mark.slow

BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # where Debian keeps it: the fix names it
ANSWER = "diesel: SELECT 1 -> 1; ssl=true; user=postgres\n"


@dataclass(frozen=True)
class Built:
    binary: Path
    document: dict[str, object]
    seconds: float

    @property
    def findings(self) -> list[dict[str, object]]:
        (artifact,) = self.document["artifacts"]  # type: ignore[misc]
        return list(artifact["findings"])


def _build(strategy: str, target_dir: Path, out: Path, *args: str) -> Built:
    """The profile each test shares with the pgapp tests (same OpenSSL and libpq crates, same target dir):
    a cold CI run compiles those C libraries once per strategy, not once per app."""
    started = time.monotonic()
    done = elfship(
        "build", "--json", "--strategy", strategy, "-o", str(out), *args,
        cwd=CARGO_FIXTURES / "dieselapp", env={"CARGO_TARGET_DIR": str(target_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-5000:]
    document: dict[str, object] = json.loads(done.stdout)
    crates = {dep["crate"]: dep for dep in document["native_dependencies"]}  # type: ignore[union-attr]
    assert crates["pq-sys"]["bundled"] and crates["openssl-sys"]["bundled"]
    return Built(out / "dieselapp", document, time.monotonic() - started)


@pytest.fixture(scope="module")
def musl(tmp_path_factory: pytest.TempPathFactory, build_std_tools: None) -> Built:
    out = tmp_path_factory.mktemp("diesel-musl")
    return _build("musl", MUSL_TARGET_DIR, out, "--release", "--build-std", "--for", "debian:11")


@pytest.fixture(scope="module")
def glibc_static(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build("glibc-static", TARGET_DIR, tmp_path_factory.mktemp("diesel-static"), "--for", "debian:11")


@pytest.fixture(scope="module")
def glibc_pinned(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build("glibc-pinned", TARGET_DIR, tmp_path_factory.mktemp("diesel-pinned"), "--for", "debian:10")


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def make_ca(directory: Path) -> Path:
    """A test CA and a server certificate for localhost / 127.0.0.1 signed by it; returns the CA's PEM."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (apt-get install openssl)")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=elfship test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory
    )
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "2", "-extfile", "server.ext", cwd=directory)  # fmt: skip
    return directory / "ca.crt"


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL cluster on 127.0.0.1 that accepts TLS connections only (hostssl); yields the
    verify-full URL and the CA certificate that signed the server's."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if os.geteuid() != 0:
        pytest.skip("starting PostgreSQL as the postgres user needs root")
    data = Path(tempfile.mkdtemp(prefix="elfship-pgtls-", dir="/tmp"))
    ca = make_ca(data)
    for name in ("server.key", "server.crt"):
        shutil.chown(data / name, "postgres")
    (data / "server.key").chmod(0o600)
    shutil.chown(data, "postgres")
    created = _as_postgres(initdb, "-D", str(data / "db"), "-A", "trust", "-U", "postgres")
    assert created.returncode == 0, created.stderr
    (data / "db" / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
    port = _free_port()
    options = (
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c ssl=on "
        f"-c ssl_cert_file={data}/server.crt -c ssl_key_file={data}/server.key"
    )
    started = _as_postgres(
        pg_ctl, "-D", str(data / "db"), "-o", options, "-l", str(data / "log"), "-w", "start"
    )
    assert started.returncode == 0, started.stderr + (data / "log").read_text(errors="replace")
    try:
        url = (
            f"postgres://postgres@127.0.0.1:{port}/postgres"
            "?sslmode=verify-full&sslrootcert=system&connect_timeout=10"
        )
        yield url, ca
    finally:
        _as_postgres(pg_ctl, "-D", str(data / "db"), "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


def empty_root(tmp_path: Path, binary: Path, ca: Path) -> Path:
    """Only the binary and the CA bundle (as Debian names it) that TLS verification needs."""
    root = tmp_path / "empty-root"
    (root / "etc/ssl/certs").mkdir(parents=True)
    shutil.copy2(ca, root / BUNDLE.lstrip("/"))
    shutil.copy2(binary, root / "dieselapp")
    return root


def run_chroot(root: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chroot", str(root), "/dieselapp", url], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def run_overlaid(
    lower: Path, binary: Path, ca: Path, url: str, tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run in LOWER with the CA bundle added by an overlay in a private mount namespace: the cached root,
    shared by every test, stays as it is."""
    upper, work, merged = (tmp_path / n for n in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        d.mkdir(parents=True)
    (upper / "etc/ssl/certs").mkdir(parents=True)
    shutil.copy2(ca, upper / BUNDLE.lstrip("/"))
    shutil.copy2(binary, upper / "dieselapp")
    mount = f"lowerdir={lower},upperdir={upper},workdir={work}"
    script = 'mount -t overlay overlay -o "$1" "$2" && exec chroot "$2" /dieselapp "$3"'
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", mount, str(merged), url],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def check_root_json(binary: Path, root: Path) -> dict[str, object]:
    done = elfship("check", "--json", str(binary), "--root", str(root), cwd=root)
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    return dict(result)


def ca_finding(result: dict[str, object]) -> dict[str, object]:
    (finding,) = [f for f in result["findings"] if f["kind"] == "static-openssl-ca"]  # type: ignore[attr-defined]
    return dict(finding)


def test_musl_app_is_fully_static_and_build_warns_about_its_ca_directory(musl: Built) -> None:
    from elfship.elf import Kind, read_elf

    info = read_elf(musl.binary)
    assert (info.kind, info.interpreter, info.needed) == (Kind.STATIC, None, ())
    (warning,) = [f for f in musl.findings if f["kind"] == "static-openssl-ca"]
    assert "/usr/local/ssl/cert.pem" in str(warning["message"])
    # check, for the release it is built for: where Debian keeps the roots, and the fix naming it.
    done = elfship("check", "--json", str(musl.binary), "--target", "debian:11", cwd=musl.binary.parent)
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    finding = ca_finding(result)
    assert {k: finding[k] for k in ("severity", "found", "openssl_dir", "ca_bundle")} == {
        "severity": "warning", "found": False, "openssl_dir": "/usr/local/ssl", "ca_bundle": BUNDLE,
    }  # fmt: skip
    assert f"SSL_CERT_FILE={BUNDLE}" in str(finding["fix"])


def test_musl_app_verifies_tls_in_an_empty_root_once_pointed_at_the_bundle(
    musl: Built, tls_postgres: tuple[str, Path], tmp_path: Path
) -> None:
    url, ca = tls_postgres
    root = empty_root(tmp_path, musl.binary, ca)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "dieselapp",
        BUNDLE.lstrip("/"),
    ]
    # check: the OpenSSL inside looks in /usr/local/ssl, the root keeps its bundle elsewhere.
    finding = ca_finding(check_root_json(root / "dieselapp", root))
    assert (finding["severity"], finding["found"], finding["openssl_dir"], finding["ca_bundle"]) == (
        "warning", False, "/usr/local/ssl", BUNDLE,
    )  # fmt: skip
    assert f"SSL_CERT_FILE={BUNDLE}" in str(finding["fix"])
    # The failure is real: without the fix the server's certificate does not verify...
    failed = run_chroot(root, url)
    assert failed.returncode == 1 and "certificate verify failed" in failed.stderr, failed.stderr
    # ...and the fix check names makes it work, over TLS.
    ran = run_chroot(root, url, SSL_CERT_FILE=BUNDLE)
    assert (ran.returncode, ran.stdout) == (0, ANSWER), ran.stderr


def test_a_root_whose_openssldir_has_the_roots_is_fine(musl: Built, tmp_path: Path) -> None:
    """The other side of the judgement: cert.pem under the binary's own OPENSSLDIR is found."""
    root = tmp_path / "root"
    (root / "usr/local/ssl").mkdir(parents=True)
    (root / "usr/local/ssl/cert.pem").write_text("")
    finding = ca_finding(check_root_json(musl.binary, root))
    assert (finding["severity"], finding["found"], finding["fix"]) == ("info", True, None)


@pytest.mark.parametrize("strategy", ["musl", "glibc_static", "glibc_pinned"])
def test_each_strategy_queries_over_tls_from_debian_11(
    strategy: str,
    request: pytest.FixtureRequest,
    tls_postgres: tuple[str, Path],
    bullseye: Path,
    tmp_path: Path,
) -> None:
    built: Built = request.getfixturevalue(strategy)
    url, ca = tls_postgres
    # Debian 11 minbase has no CA bundle at all: check says so, and names the package.
    finding = ca_finding(check_root_json(built.binary, bullseye))
    evidence = {k: v for k, v in finding.items() if k not in ("message", "fix")}
    assert evidence == {
        "kind": "static-openssl-ca", "severity": "warning", "found": False, "ca_bundle": None,
        "openssl_dir": "/usr/local/ssl", "cert_file": "/usr/local/ssl/cert.pem", "cert_dir": "/usr/local/ssl/certs",
    }  # fmt: skip
    assert str(finding["fix"]).startswith("install the CA certificates (Debian: ca-certificates)")
    failed = run_overlaid(bullseye, built.binary, ca, url, tmp_path / "without")
    assert failed.returncode == 1 and "certificate verify failed" in failed.stderr, failed.stderr
    ran = run_overlaid(bullseye, built.binary, ca, url, tmp_path / "with", SSL_CERT_FILE=BUNDLE)
    assert (ran.returncode, ran.stdout) == (0, ANSWER), ran.stderr
