"""The founding story: a Rust app using libpq (pq-sys `bundled`, openssl-sys `vendored`, from crates.io) is
built on this machine, copied into a Debian 11 minbase root that has no libpq, and queries a real PostgreSQL
server started by the test on loopback.

Heavy (OpenSSL and libpq compile from source): the cargo target directory is cached in
~/.cache/elfship-tests/cargo-target/pgapp, so a rerun only relinks.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from elfship.elf import Kind, read_elf
from tests.support.fixtures import CACHE, debian_root, run_in_root

PROJECT = Path(__file__).resolve().parent / "fixtures" / "cargo" / "pgapp"
SRC = Path(__file__).resolve().parent.parent / "src"
TARGET_DIR = CACHE / "cargo-target" / "pgapp"
GLIBC_SONAMES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libgcc_s.so.1"}
GLIBC_SONAMES |= {"ld-linux-x86-64.so.2", "libutil.so.1", "libresolv.so.2"}

pytestmark = pytest.mark.slow


def _postgres_bin(tool: str) -> str:
    found = shutil.which(tool) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)), None
    )
    if found is None:
        pytest.skip(f"{tool} not installed (apt-get install postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields a libpq connection string."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if os.geteuid() != 0:
        pytest.skip("starting PostgreSQL as the postgres user needs root")
    data = Path(tempfile.mkdtemp(prefix="elfship-pg-", dir="/tmp"))
    shutil.chown(data, "postgres")
    port = _free_port()
    created = _as_postgres(initdb, "-D", str(data / "db"), "-A", "trust", "-U", "postgres")
    assert created.returncode == 0, created.stderr
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    started = _as_postgres(
        pg_ctl, "-D", str(data / "db"), "-o", options, "-l", str(data / "log"), "-w", "start"
    )
    assert started.returncode == 0, started.stderr + (data / "log").read_text(errors="replace")
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=disable connect_timeout=10"
    finally:
        _as_postgres(pg_ctl, "-D", str(data / "db"), "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def bullseye() -> Path:
    root = debian_root("bullseye")
    assert not list(root.glob("usr/lib/*/libpq.so*")), "the Debian 11 root must not have libpq"
    return root


def run_there(
    root: Path, binary: Path, tag: str, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """run_in_root under a name of its own: parallel tests must not overwrite each other's copy in the root."""
    unique = binary.with_name(f"{binary.name}-{tag}")
    shutil.copy2(binary, unique)
    return run_in_root(root, unique, *args, timeout=timeout)


def build(*args: str, output: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "CARGO_TARGET_DIR": str(TARGET_DIR)}
    done = subprocess.run(
        # debian:10 (glibc 2.28), as the diesel tests pin: the two apps share one cold OpenSSL + libpq build.
        [sys.executable, "-m", "elfship", "build", "--json", "--for", "debian:10", "-o", str(output), *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    document: dict[str, object] = json.loads(done.stdout)
    crates = {dep["crate"]: dep for dep in document["native_dependencies"]}  # type: ignore[union-attr]
    assert crates["pq-sys"]["bundled"] and crates["openssl-sys"]["bundled"]
    return document


def test_glibc_static_app_queries_postgres_from_debian_11(
    bullseye: Path, postgres: str, tmp_path: Path
) -> None:
    document = build("--strategy", "glibc-static", output=tmp_path)
    binary = tmp_path / "pgapp"
    info = read_elf(binary)
    assert info.kind in (Kind.STATIC, Kind.STATIC_PIE) and info.needed == ()
    from elfship.check import check_root

    assert check_root(str(binary), bullseye).verdict == "runs"
    ran = run_there(bullseye, binary, "static", postgres, timeout=60)
    assert (ran.returncode, ran.stdout) == (0, "SELECT 1 -> 1\n"), ran.stderr
    # libpq resolves users and hosts through NSS: the static build says so.
    (artifact,) = document["artifacts"]  # type: ignore[misc]
    assert any(f["kind"] == "static-nss" for f in artifact["findings"])


def test_glibc_pinned_app_queries_postgres_from_debian_11(
    bullseye: Path, postgres: str, tmp_path: Path
) -> None:
    document = build("--strategy", "glibc-pinned", output=tmp_path)
    binary = tmp_path / "pgapp"
    info = read_elf(binary)
    assert info.kind is Kind.DYNAMIC
    assert set(info.needed) <= GLIBC_SONAMES, info.needed  # no libpq, no libssl: both are inside
    assert info.libc.min_version is not None
    assert tuple(map(int, info.libc.min_version.split("."))) <= (2, 31)
    assert document["glibc_pin"] == "2.28"
    ran = run_there(bullseye, binary, "pinned", postgres, timeout=60)
    assert (ran.returncode, ran.stdout) == (0, "SELECT 1 -> 1\n"), ran.stderr


def test_the_app_without_a_server_says_so(bullseye: Path, tmp_path: Path) -> None:
    build("--strategy", "glibc-static", output=tmp_path)
    ran = run_there(bullseye, tmp_path / "pgapp", "noserver", timeout=60)
    assert ran.stdout == "No DATABASE_URL set, so doing nothing\n"
