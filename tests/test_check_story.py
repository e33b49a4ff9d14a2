"""The founding story, end to end: built on a new workstation with pow() and libpq, dead on Debian 11."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import build_c, debian_root


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def story_binary() -> Path:
    return build_c("uses_libpq.c", cflags=["-I/usr/include/postgresql"], ldflags=["-lpq", "-lm"])


def findings_of(document: dict, target: str) -> list[dict]:
    (result,) = [r for r in document["results"] if r["target"] == target]
    return result["findings"]


def test_debian11_fails_for_exactly_the_story_reasons(story_binary: Path) -> None:
    proc = elfship("check", str(story_binary), "--target", "debian:11", "--json")
    assert proc.returncode == 1, proc.stderr
    errors = [f for f in findings_of(json.loads(proc.stdout), "debian:11") if f["severity"] == "error"]
    by_kind = {(f["kind"], f["library"]): f for f in errors}
    assert set(by_kind) == {("version-too-new", "libc.so.6"), ("library-not-in-base", "libpq.so.5")}
    glibc = by_kind[("version-too-new", "libc.so.6")]
    assert glibc["versions"] == ["GLIBC_2.34"]
    assert glibc["symbols"] == {"GLIBC_2.34": ["__libc_start_main"]}
    assert "debian:11 has glibc 2.31" in glibc["message"]
    libpq = by_kind[("library-not-in-base", "libpq.so.5")]
    assert libpq["install"] == "apt-get install libpq5"
    assert "pq-sys feature `bundled`" in libpq["fix"]


def test_debian10_also_blames_exp_and_pow(story_binary: Path) -> None:
    # Debian 11's glibc 2.31 already has GLIBC_2.29 (exp, pow); Debian 10's 2.28 does not.
    proc = elfship("check", str(story_binary), "--target", "buster", "--json")
    findings = findings_of(json.loads(proc.stdout), "debian:10")
    libm = [f for f in findings if f["kind"] == "version-too-new" and f["library"] == "libm.so.6"]
    assert libm and libm[0]["symbols"]["GLIBC_2.29"] == ["exp", "pow"]
    assert "libm.so.6 needs GLIBC_2.29 for exp, pow; debian:10 has glibc 2.28" in proc.stdout
    # Debian 10 is off the mirror: its base system is inferred from the official image's package list, which
    # has no libpq5, so libpq is an error that names where that knowledge comes from, with the nearest hint.
    libpq = [f for f in findings if f.get("library") == "libpq.so.5"]
    assert libpq and libpq[0]["severity"] == "error" and libpq[0]["kind"] == "library-not-in-base"
    assert "inferred from its image manifest" in libpq[0]["message"] and "10.13.md" in libpq[0]["message"]
    assert "libpq5" in libpq[0]["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_run_in_debian11_root_confirms(story_binary: Path) -> None:
    root = debian_root("bullseye")
    proc = elfship("check", str(story_binary), "--root", str(root), "--run", "--json")
    assert proc.returncode == 1, proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    kinds = {(f["kind"], f.get("library")) for f in result["findings"] if f["severity"] == "error"}
    assert ("library-missing", "libpq.so.5") in kinds
    assert ("version-too-new", "libc.so.6") in kinds
    assert result["run"]["started"] is False
    assert result["run"]["prediction_held"] is True
    assert "libpq.so.5" in result["run"]["stderr"] or "GLIBC_2.34" in result["run"]["stderr"]
