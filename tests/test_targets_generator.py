"""scripts/gen_targets.py: deterministic output, and the committed data agrees with what it generates."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
GENERATOR = REPO / "scripts" / "gen_targets.py"
DISTROS = REPO.parent / "shared" / "data" / "distros"
COMMITTED = REPO / "src" / "elfship" / "targets" / "data"
CACHE = Path.home() / ".cache" / "elfship-build"
SUITES = ("bullseye", "bookworm", "trixie", "sid")


def _contents_cached() -> bool:
    return all((CACHE / "debian" / f"Contents-amd64-{suite}.gz").exists() for suite in SUITES)


def _mirror_reachable() -> bool:
    try:
        request = urllib.request.Request("http://deb.debian.org/debian/dists/bookworm/Release", method="HEAD")
        with urllib.request.urlopen(request, timeout=15):
            return True
    except (urllib.error.URLError, OSError):
        return False


def generate(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        str(GENERATOR),
        "--distros",
        str(DISTROS),
        "--cache",
        str(CACHE),
        "--out",
        str(out),
    ]
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=900)


def releases(directory: Path) -> list[dict[str, Any]]:
    document: dict[str, Any] = json.loads((directory / "releases.json").read_text())
    return list(document["releases"])


@pytest.mark.slow
def test_generator_is_deterministic(tmp_path: Path) -> None:
    if not (DISTROS / "EOL.rst").is_file():
        pytest.skip(f"shared distros measurements not found at {DISTROS}")
    if not _contents_cached() and not _mirror_reachable():
        pytest.skip("deb.debian.org cannot be reached and the Contents indexes are not cached")
    first = generate(tmp_path / "first")  # downloads what is not cached yet
    assert first.returncode == 0, first.stderr
    second = generate(tmp_path / "second", "--offline")  # the same inputs, from the cache only
    assert second.returncode == 0, second.stderr
    first_files = sorted(p.name for p in (tmp_path / "first").iterdir())
    assert first_files == sorted(p.name for p in (tmp_path / "second").iterdir())
    assert {"releases.json", "packages-debian-12.json.gz"} <= set(first_files)
    for name in first_files:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name
    # What comes from the shared measurements alone is exactly what is committed.
    for fresh, committed in zip(releases(tmp_path / "first"), releases(COMMITTED), strict=True):
        for key in ("name", "arch", "libc_version", "version_nodes", "eol", "lts_end", "elts_end", "aliases"):
            assert fresh[key] == committed[key], (fresh["name"], key)


def test_offline_without_cache_says_what_is_unknown(tmp_path: Path) -> None:
    if not (DISTROS / "EOL.rst").is_file():
        pytest.skip(f"shared distros measurements not found at {DISTROS}")
    argv = [
        sys.executable,
        str(GENERATOR),
        "--distros",
        str(DISTROS),
        "--cache",
        str(tmp_path / "empty-cache"),
    ]
    argv += ["--roots", str(tmp_path / "no-roots"), "--out", str(tmp_path / "out"), "--offline"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "package map of debian:12 unknown" in result.stderr
    assert "base_sonames of debian:12 (x86_64) stay unknown" in result.stderr
    document = json.loads((tmp_path / "out" / "releases.json").read_text())
    assert document["package_indexes"] == {}
    debian12 = next(r for r in document["releases"] if r["name"] == "debian:12" and r["arch"] == "x86_64")
    assert debian12["base_sonames"] is None and debian12["package_index"] is None


def test_missing_distros_directory_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--distros", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "EOL.rst" in result.stderr
    assert not (tmp_path / "out").exists()
