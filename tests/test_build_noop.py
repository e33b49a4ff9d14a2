"""A no-op `elfship build` (cargo has nothing to do) still reads and checks the binary cargo reports: nothing
about the output is remembered between builds (only facts about the compiler are, see test_build_rustc_facts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import CACHE, build_c

HELLO = Path(__file__).resolve().parent / "fixtures" / "cargo" / "hello"
SRC = Path(__file__).resolve().parent.parent / "src"
ARGS = ("build", "--json", "--strategy", "glibc-pinned", "--for", "debian:11")


def build(output: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "CARGO_TARGET_DIR": str(CACHE / "cargo-target" / "hello-noop"),  # its own: the binary is swapped
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
