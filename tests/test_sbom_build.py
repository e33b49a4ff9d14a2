"""Builds that record what they embed (`elfship build` through cargo-auditable, the inventory line, --sbom),
and check's "their CVEs are yours now" finding, on real builds: sqlitez, and the founding-story app
(pq-sys `bundled` + openssl-sys `vendored`) built static with and without cargo-auditable. The app reuses
test_build_pgapp's cargo target directory, so only the app itself relinks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elfship.report.sbom_cyclonedx import validation_errors
from elfship.sbom import ComponentKind, Confidence, inventory
from elfship.sbom.record import _replayed_args, find_cargo_auditable
from tests.support.fixtures import CACHE
from tests.support.sbom_fixtures import CARGO_FIXTURES, prints_openssl_version, static_openssl_zlib

pytestmark = pytest.mark.slow
SRC = Path(__file__).resolve().parent.parent / "src"
PGAPP = CARGO_FIXTURES / "pgapp"
PGAPP_TARGET_DIR = CACHE / "cargo-target" / "pgapp"  # shared with tests/test_build_pgapp.py


def elfship(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=3600,
    )


def locked(project: Path) -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    lock = tomllib.loads((project / "Cargo.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"]}


def require_auditable() -> None:
    if find_cargo_auditable(os.environ) is None:
        pytest.skip("cargo-auditable not installed (cargo install cargo-auditable)")


def test_cargo_flags_replayed_for_cargo_metadata() -> None:
    argv = [
        "cargo",
        "build",
        "--target",
        "x",
        "--locked",
        "--config",
        "a=1",
        "--config=b=2",
        "--",
        "--offline",
    ]
    assert _replayed_args(argv) == {
        "offline": False,
        "locked": True,
        "frozen": False,
        "config": ["a=1", "b=2"],
    }


def test_build_records_crates_and_writes_cyclonedx(tmp_path: Path) -> None:
    require_auditable()
    env = {"CARGO_TARGET_DIR": str(CACHE / "cargo-target" / "sqlitez-elfship")}
    args = (
        "build",
        "--strategy",
        "glibc-static",
        "--release",
        "-o",
        str(tmp_path),
        "--sbom",
        "--",
        "--locked",
    )
    done = elfship(*args, cwd=CARGO_FIXTURES / "sqlitez", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recording the crate list with cargo-auditable" in done.stderr
    assert (
        "info: embeds sqlite 3.39.0" in done.stdout
        and "crates (exact): their CVEs are yours now" in done.stdout
    )
    document = (tmp_path / "sqlitez.cdx.json").read_text()
    assert validation_errors(document) is None
    purls = {c.get("purl") for c in json.loads(document)["components"]}
    assert f"pkg:cargo/libsqlite3-sys@{locked(CARGO_FIXTURES / 'sqlitez')['libsqlite3-sys']}" in purls
    assert "dep-v0" in inventory(tmp_path / "sqlitez").sources


def build_pgapp(output: Path, *, auditable: bool) -> Path:
    env = {"CARGO_TARGET_DIR": str(PGAPP_TARGET_DIR), **({} if auditable else {"ELFSHIP_NO_AUDITABLE": "1"})}
    args = ("build", "--json", "--for", "debian:11", "-o", str(output), "--strategy", "glibc-static")
    done = elfship(*args, cwd=PGAPP, env=env)
    assert done.returncode == 0, done.stderr[-5000:]
    (artifact,) = json.loads(done.stdout)["artifacts"]
    (embedded,) = [f for f in artifact["findings"] if f["kind"] == "embedded"]  # the inventory line
    assert "libpq 18." in embedded["message"] and "openssl 3." in embedded["message"]
    assert embedded["message"].endswith("their CVEs are yours now")
    return output / "pgapp"


def test_founding_story_app_with_cargo_auditable(tmp_path: Path) -> None:
    require_auditable()
    inv = inventory(build_pgapp(tmp_path, auditable=True), libraries=False)
    versions = locked(PGAPP)
    crates = {c.name: c for c in inv.of_kind(ComponentKind.RUST_CRATE)}
    assert "dep-v0" in inv.sources
    assert {n: crates[n].version for n in ("openssl-src", "pq-src", "pq-sys", "openssl-sys")} == {
        n: versions[n] for n in ("openssl-src", "pq-src", "pq-sys", "openssl-sys")
    }
    libraries = {c.name: c for c in inv.embedded_c_libraries}
    openssl_upstream = versions["openssl-src"].split("+", 1)[1]  # 300.6.1+3.6.3 -> 3.6.3
    libpq_upstream = versions["pq-src"].split("+libpq-", 1)[1]  # 0.3.14+libpq-18.6 -> 18.6
    assert (libraries["openssl"].version, libraries["openssl"].confidence) == (
        openssl_upstream,
        Confidence.EXACT,
    )
    assert (libraries["libpq"].version, libraries["libpq"].confidence) == (libpq_upstream, Confidence.EXACT)
    assert any(
        e.startswith("version text 'OpenSSL " + openssl_upstream) for e in libraries["openssl"].evidence
    )


def test_founding_story_app_without_cargo_auditable(tmp_path: Path) -> None:
    binary = build_pgapp(tmp_path, auditable=False)
    inv = inventory(binary, libraries=False)
    versions = locked(PGAPP)
    assert "dep-v0" not in inv.sources
    libraries = {c.name: c.version for c in inv.embedded_c_libraries}
    assert libraries["openssl"] == versions["openssl-src"].split("+", 1)[1]  # by content alone
    assert libraries["libpq"] == versions["pq-src"].split("+libpq-", 1)[1]  # from pq-src's source paths
    crates = inv.of_kind(ComponentKind.RUST_CRATE)
    assert crates and all(c.confidence is Confidence.HEURISTIC and c.count > 0 for c in crates)
    checked = elfship("check", "--json", str(binary), "--target", "debian:11")
    findings = json.loads(checked.stdout)["results"][0]["findings"]
    (embedded,) = [f for f in findings if f["kind"] == "embedded-libraries"]
    assert {e["name"] for e in embedded["embedded"]} == {"openssl", "libpq"}
    assert "their CVEs are yours now" in embedded["message"]


def test_check_names_embedded_libraries_only_when_embedded() -> None:
    static = elfship("check", "--json", str(static_openssl_zlib()), "--target", "debian:12")
    kinds = [f["kind"] for f in json.loads(static.stdout)["results"][0]["findings"]]
    assert "embedded-libraries" in kinds
    dynamic = elfship("check", "--json", str(prints_openssl_version()), "--target", "debian:12")
    kinds = [f["kind"] for f in json.loads(dynamic.stdout)["results"][0]["findings"]]
    assert "embedded-libraries" not in kinds
