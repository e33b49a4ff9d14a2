"""Shared helpers for the bundle tests: fixture programs, bundling through the CLI, running in a chroot."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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


# ---------- hostile scenes for self-extracting bundles: a victim (nobody) and another local user ----------

VICTIM = 65534  # nobody: runs the bundle
ATTACKER = 4242  # another local user: plants things in the shared temporary directory


@dataclass(frozen=True)
class Scene:
    """A miniature multi-user machine in one directory that `nobody` can enter."""

    top: Path
    tmp: Path  # root-owned 1777, like /tmp: the victim's $TMPDIR
    home: Path  # the victim's $HOME (its ~/.cache/elfship is the fallback base)
    outside: Path  # 0777, outside every cache: nothing a bundle unpacks may ever land here
    marker: Path  # written by the attacker's planted program if it ever runs

    @property
    def base(self) -> Path:
        return self.tmp / f"elfship-{VICTIM}"

    @property
    def home_base(self) -> Path:
        return self.home / ".cache" / "elfship"

    def outside_entries(self) -> list[str]:
        return sorted(str(p.relative_to(self.outside)) for p in self.outside.rglob("*"))


def require_setpriv() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to play two other users (setpriv)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not installed (util-linux)")


@contextmanager
def hostile_scene() -> Iterator[Scene]:
    top = Path(tempfile.mkdtemp(prefix="elfship-attack-", dir="/tmp"))
    try:
        top.chmod(0o755)
        scene = Scene(top, top / "tmp", top / "home", top / "outside", top / "outside" / "pwned")
        scene.tmp.mkdir(mode=0o1777)
        scene.tmp.chmod(0o1777)
        scene.home.mkdir()
        os.chown(scene.home, VICTIM, VICTIM)
        scene.outside.mkdir()
        scene.outside.chmod(0o777)  # the victim could write here: a write through a bundle would succeed
        yield scene
    finally:
        shutil.rmtree(top, ignore_errors=True)


def run_as_victim(
    program: Path,
    scene: Scene,
    *,
    path: str = "/usr/bin:/bin",
    shell: str | None = None,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Start program as the victim; `shell`: through this sh (the file is a sh stub) instead of its #! line."""
    env = {"PATH": path, "TMPDIR": str(scene.tmp), "HOME": str(scene.home), "LANG": "C", **(env or {})}
    setpriv = shutil.which("setpriv") or "setpriv"
    argv = [setpriv, f"--reuid={VICTIM}", f"--regid={VICTIM}", "--clear-groups", *([shell] if shell else [])]
    argv.append(str(program))
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout, check=False, preexec_fn=preexec_fn
    )


def payload_hash(run_file: Path) -> str:
    """The cache directory name a .run file unpacks to (C: its config block; sh: its `hash=` line)."""
    data = run_file.read_bytes()
    if data.startswith(b"#!/bin/sh\n"):
        found = re.search(rb"^hash=([0-9a-f]{32})$", data[:65536], re.MULTILINE)
    else:
        length = struct.unpack("<I", data[-12:-8])[0]
        found = re.search(rb"^payload_hash=([0-9a-f]{32})$", data[-12 - length : -12], re.MULTILINE)
    assert found, run_file
    return found.group(1).decode()


def plant_program(directory: Path, name: str, marker: Path, owner: int) -> None:
    """What another user leaves where a bundle might look for its unpacked copy: a `libexec/NAME` (and
    `bin/NAME`) that records it ran."""
    for sub in ("libexec", "bin"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
        script = directory / sub / name
        script.write_text(f"#!/bin/sh\necho pwned >> {marker}\n")
        script.chmod(0o755)
    for path in [directory, *directory.rglob("*")]:
        os.lchown(path, owner, owner)


def tree_state(path: Path) -> list[tuple[str, int, int]]:
    """(name, owner, mode) of everything under path, symlinks not followed: to see that nothing changed."""
    entries = [path, *sorted(path.rglob("*"))]
    return [(str(p), p.lstat().st_uid, p.lstat().st_mode) for p in entries]
