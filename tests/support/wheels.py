"""Real wheels from PyPI, downloaded once at test time (pip download) into the shared test cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import CACHE, file_lock

WHEELS = CACHE / "wheels"


def wheel(requirement: str, platform: str) -> Path:
    directory = WHEELS / f"{requirement}-{platform}".replace("==", "-")
    done = directory / ".complete"
    with file_lock(WHEELS / ".lock"):
        if not done.exists():
            directory.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
            argv += ["--platform", platform, "--python-version", "3.12", "--implementation", "cp"]
            proc = subprocess.run([*argv, "-d", str(directory), requirement], capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.skip(
                    f"pip download {requirement} ({platform}) failed, PyPI unreachable? {proc.stderr[-300:]}"
                )
            done.touch()
    (found,) = directory.glob("*.whl")
    return found
