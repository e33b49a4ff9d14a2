"""Shared helpers for the bundle tests: fixture programs, bundling through the CLI, running in a chroot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.fixtures import build_c

LIBPQ_HEADER = Path("/usr/include/postgresql/libpq-fe.h")
MUSL_LOADER = Path("/lib/ld-musl-x86_64.so.1")
CHROOT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C"}


def probe_program() -> Path:
    """tests/fixtures/src/bundle/probe.c: needs libpq.so.5, and GLIBC_2.34 when built on glibc >= 2.34."""
    if not LIBPQ_HEADER.exists():
        pytest.skip("libpq-dev not installed (apt-get install libpq-dev)")
    return build_c("bundle/probe.c", cflags=["-O2", "-I/usr/include/postgresql"], ldflags=["-lpq"])


def musl_program() -> Path:
    if not MUSL_LOADER.exists():
        pytest.skip("musl not installed: no /lib/ld-musl-x86_64.so.1 to bundle (apt-get install musl)")
    return build_c(
        "bundle/musl_probe.c", compiler="zig", zig_target="x86_64-linux-musl", cflags=["-dynamic", "-O2"]
    )


def elfship(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def bundle(program: Path, out: Path, *args: str) -> Path:
    done = elfship("bundle", str(program), "-o", str(out), *args)
    assert done.returncode == 0, done.stderr
    return out


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def require_root_user() -> None:
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    if shutil.which("chroot") is None:
        pytest.skip("chroot not installed (coreutils)")


@contextmanager
def place_in_root(root: Path) -> Iterator[tuple[Path, str]]:
    """A private directory inside the shared root: (its path here, its path inside the root); removed after."""
    name = f"elfship-bundle-test-{uuid.uuid4().hex[:10]}"
    here = root / "tmp" / name
    here.mkdir(parents=True)
    try:
        yield here, f"/tmp/{name}"
    finally:
        shutil.rmtree(here, ignore_errors=True)


def chroot_argv(root: Path, argv: Sequence[str]) -> list[str]:
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"  # absolute: the child's PATH is the root's
    return [chroot, str(root), *argv]


def run_in(
    root: Path, argv: Sequence[str], *, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        chroot_argv(root, argv),
        input=stdin,
        capture_output=True,
        env={**CHROOT_ENV, **(env or {})},
        timeout=120,
        check=False,
    )


def copy_bundle(bundle_path: Path, into: Path) -> Path:
    """Copy a bundle (directory or file) keeping symlinks, the way a user would scp -r or rsync it."""
    target = into / bundle_path.name
    if bundle_path.is_dir():
        shutil.copytree(bundle_path, target, symlinks=True)
    else:
        shutil.copy2(bundle_path, target)
    return target
