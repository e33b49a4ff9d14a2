"""An interrupted `elfship bundle` (Ctrl-C, SIGTERM) exits 130 and leaves no temporary file behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.fixtures import SOURCES

pytestmark = pytest.mark.slow

BLOB_SIZE = 64 << 20  # random, so it does not compress: several seconds at level 9 on this machine


@pytest.fixture(scope="module")
def big_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A program needing libblob.so.1, a library carrying 64 MB of random bytes in an extra section."""
    for tool in ("gcc", "objcopy"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install gcc binutils)")
    work = tmp_path_factory.mktemp("blob")
    small = work / "small.so"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-Wl,-soname,libblob.so.1",
            "-o",
            str(small),
            str(SOURCES / "bundle/blob.c"),
        ],
        check=True,
    )
    (work / "blob.bin").write_bytes(os.urandom(BLOB_SIZE))
    subprocess.run(
        [
            "objcopy",
            "--add-section",
            f".blob={work / 'blob.bin'}",
            "--set-section-flags",
            ".blob=readonly",
            str(small),
            str(work / "libblob.so.1"),
        ],
        check=True,
    )
    program = work / "blob_main"
    subprocess.run(
        ["gcc", "-o", str(program), str(SOURCES / "bundle/blob_main.c"), "-L", str(work), "-l:libblob.so.1"],
        check=True,
    )
    return program


def _wait_for_temporary(directory: Path, deadline: float) -> Path:
    while time.monotonic() < deadline:
        for name in os.listdir(directory):
            path = directory / name
            if name.endswith(".elfship-tmp.out") and path.stat().st_size > 0:
                return path
        time.sleep(0.01)
    raise AssertionError(f"no temporary output appeared in {directory}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("fmt", ["self-extracting", "tar"])
def test_interrupted_bundle_leaves_nothing(big_program: Path, tmp_path: Path, signum: int, fmt: str) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "LD_LIBRARY_PATH": str(big_program.parent)}
    out = out_dir / ("blob.run" if fmt == "self-extracting" else "blob.tar.gz")
    process = subprocess.Popen(
        [sys.executable, "-m", "elfship", "bundle", str(big_program), "-o", str(out), "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for_temporary(out_dir, time.monotonic() + 300)  # the launcher may be compiled first
        time.sleep(0.3)  # now compressing the 64 MB library
        assert process.poll() is None, "finished before it could be interrupted: make BLOB_SIZE larger"
        sent = time.monotonic()
        process.send_signal(signum)
        _stdout, stderr = process.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "elfship: interrupted" in stderr, stderr
    assert os.listdir(out_dir) == []  # no temporary file, no half bundle
    assert stopped_after < 5, f"took {stopped_after:.1f} s to stop"
