"""The founding story's app (pq-sys `bundled`, openssl-sys `vendored`) built `--strategy musl --build-std`: fully
static, it queries a real PostgreSQL server on 127.0.0.1 from an empty root holding only the binary, and from a
Debian 11 root without libpq. The build warns that its OpenSSL looks for CA certificates in openssl-src's
/usr/local/ssl.

Shares tests/test_build_musl.py's cached target dir, so the std is compiled once for both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_build_e2e import CARGO_FIXTURES, artifact_path, elfship, run_there
from tests.test_build_musl import MUSL_TARGET_DIR, build_std_tools, inspect
from tests.test_build_pgapp import bullseye, postgres

__all__ = ["build_std_tools", "bullseye", "postgres"]  # module fixtures used here

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pgapp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("pgapp-musl")
    done = elfship(
        "build", "--json", "--strategy", "musl", "--build-std", "--release", "--for", "debian:11", "-o", str(out),
        cwd=CARGO_FIXTURES / "pgapp", env={"CARGO_TARGET_DIR": str(MUSL_TARGET_DIR)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-5000:]
    document: dict[str, object] = json.loads(done.stdout)
    return artifact_path(document), document


def test_the_app_is_fully_static_and_warns_about_its_ca_directory(
    pgapp: tuple[Path, dict[str, object]],
) -> None:
    binary, document = pgapp
    crates = {dep["crate"]: dep for dep in document["native_dependencies"]}  # type: ignore[union-attr]
    assert crates["pq-sys"]["bundled"] and crates["openssl-sys"]["bundled"]
    facts = inspect(binary)
    assert (facts["kind"], facts["interpreter"], facts["needed"]) == ("static", None, [])
    (artifact,) = document["artifacts"]  # type: ignore[misc]
    (warning,) = [f for f in artifact["findings"] if f["kind"] == "static-openssl-ca"]
    assert "/usr/local/ssl/cert.pem" in warning["message"]  # openssl-src's OPENSSLDIR


def test_the_app_queries_postgres_from_an_empty_root(
    pgapp: tuple[Path, dict[str, object]], postgres: str, tmp_path: Path
) -> None:
    binary, _ = pgapp
    root = tmp_path / "empty-root"
    root.mkdir()
    shutil.copy2(binary, root / "pgapp")
    assert os.listdir(root) == ["pgapp"]
    ran = subprocess.run(
        ["chroot", str(root), "/pgapp", postgres], capture_output=True, text=True, timeout=60
    )
    assert (ran.returncode, ran.stdout) == (0, "SELECT 1 -> 1\n"), ran.stderr


def test_the_app_queries_postgres_from_debian_11(
    pgapp: tuple[Path, dict[str, object]], postgres: str, bullseye: Path
) -> None:
    binary, _ = pgapp
    ran = run_there(bullseye, binary, "musl-build-std", postgres, timeout=60)
    assert (ran.returncode, ran.stdout) == (0, "SELECT 1 -> 1\n"), ran.stderr
