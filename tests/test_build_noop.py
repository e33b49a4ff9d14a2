"""A no-op `elfship build` (cargo has nothing to do) still reads and checks the binary cargo reports: nothing
about the output is remembered between builds (only facts about the compiler are, see test_build_rustc_facts,
and last time's `cargo metadata` answer, which is only a guess to start cargo early)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import CACHE, build_c

HELLO = Path(__file__).resolve().parent / "fixtures" / "cargo" / "hello"
SRC = Path(__file__).resolve().parent.parent / "src"
ARGS = ("build", "--json", "--strategy", "glibc-pinned", "--for", "debian:11")


def build(output: Path, target: str = "hello-noop") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "CARGO_TARGET_DIR": str(CACHE / "cargo-target" / target),  # each test its own: they change it
    }
    return subprocess.run(
        [sys.executable, "-m", "elfship", *ARGS, "-o", str(output)],
        cwd=HELLO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed (https://rustup.rs)")
def test_a_no_op_build_checks_the_binary_it_delivers(tmp_path: Path) -> None:
    first = build(tmp_path / "first")
    if first.returncode == 2 and "zig" in first.stderr:
        pytest.skip("zig not installed (pip install ziglang)")
    assert first.returncode == 0, first.stderr[-3000:]
    built = Path(json.loads(first.stdout)["artifacts"][0]["cargo_path"])
    original, stat = built.read_bytes(), built.stat()
    # Under cargo's feet: a binary needing glibc 2.34 (this machine's C hello), with the mtime cargo saw, so
    # cargo still reports the build as fresh and runs nothing.
    needs_234 = build_c("hello.c")
    try:
        shutil.copyfile(needs_234, built)
        os.utime(built, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        again = build(tmp_path / "again")
    finally:
        built.write_bytes(original)
        os.utime(built, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert again.returncode == 1, again.stderr[-3000:]
    document = json.loads(again.stdout)
    (artifact,) = document["artifacts"]
    assert artifact["cargo_path"] == str(built)
    assert [c["verdict"] for c in artifact["checks"]] == ["fails"]
    assert any("above the pin 2.31" in f["message"] for f in artifact["findings"])
    assert artifact["path"] is None and list((tmp_path / "again").iterdir()) == []  # nothing delivered
    assert build(tmp_path / "restored").returncode == 0


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed (https://rustup.rs)")
def test_a_wrong_guess_is_stopped_unseen_and_the_build_runs_from_the_real_answer(tmp_path: Path) -> None:
    first = build(tmp_path / "first", "hello-guess")
    if first.returncode == 2 and "zig" in first.stderr:
        pytest.skip("zig not installed (pip install ziglang)")
    assert first.returncode == 0, first.stderr[-3000:]
    target_dir = str(CACHE / "cargo-target" / "hello-guess")
    # This checkout's project with this test's target directory (another checkout's tests share the cache).
    (entry,) = [e for e in lastproject_entries() if _is_this_checkouts(e, target_dir)]
    remembered = json.loads(entry.read_text())
    # Last time's answer, wrong now: an openssl-sys in the graph, whose plan would ask for a static OpenSSL.
    wrong = json.loads(entry.read_text())
    wrong["project"]["resolved"].append(["openssl-sys", "0.9.100", []])
    entry.write_text(json.dumps(wrong))
    again = build(tmp_path / "first", "hello-guess")
    assert again.returncode == 0, again.stderr[-3000:]
    assert without_timing(json.loads(again.stdout)) == without_timing(json.loads(first.stdout))
    assert [line for line in again.stderr.splitlines() if line.startswith("elfship: running:")] == [
        line for line in first.stderr.splitlines() if line.startswith("elfship: running:")
    ]
    assert "OPENSSL" not in again.stderr and "openssl" not in again.stderr  # the guess's plan never showed
    assert json.loads(entry.read_text()) == remembered  # this time's answer is remembered


def lastproject_entries() -> list[Path]:
    from elfship.builder.lastproject import SUBDIR
    from elfship.cachedir import cache_dir

    return sorted((cache_dir() / SUBDIR).glob("*.json"))


def _is_this_checkouts(entry: Path, target_dir: str) -> bool:
    """Whether a remembered answer is for this checkout's hello project built into target_dir: the key's
    manifest compared whole ("/check/work/main/..." contains "/work/main/..." as text)."""
    key = json.loads(json.loads(entry.read_text())["key"])
    return bool(key[1] == str(HELLO / "Cargo.toml") and target_dir in key[6])


def without_timing(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "cargo": {**document["cargo"], "seconds": None}}
