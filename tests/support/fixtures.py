"""Build test fixtures at test time (never committed) and cache them outside the repo.

Each fixture is keyed by a hash of its source, the compiler's identity and the flags, so an edited source or
a new compiler rebuilds it, and a second run (or a second xdist worker) reuses it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
SOURCES = TESTS / "fixtures" / "src"
CACHE = Path(os.environ.get("ELFSHIP_TEST_CACHE", Path.home() / ".cache" / "elfship-tests"))
ROOTS = CACHE / "roots"
MIRROR = os.environ.get("ELFSHIP_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE_NUMBERS = {"bullseye": "11", "bookworm": "12", "trixie": "13"}


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise work on one cache entry between processes (xdist workers, parallel CI jobs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def zig_cmd() -> list[str]:
    """The zig driver from the ziglang wheel; skips the test naming the package when it is absent."""
    try:
        import ziglang  # noqa: F401
    except ImportError:
        pytest.skip("zig not installed (pip install ziglang)")
    return [sys.executable, "-m", "ziglang"]


@cache
def _tool_identity(tool: str) -> str:
    argv = [*zig_cmd(), "version"] if tool == "zig" else [tool, "--version"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"{tool} not installed")
    return out.splitlines()[0] if out else tool


def _compiler_argv(compiler: str, zig_target: str | None) -> list[str]:
    if compiler == "zig":
        driver = "c++" if zig_target and zig_target.endswith("++") else "cc"
        target = zig_target.removesuffix("++") if zig_target else None
        return [*zig_cmd(), driver, *(["-target", target] if target else [])]
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed (apt-get install {'g++' if compiler == 'g++' else 'gcc'})")
    return [compiler]


def build_c(
    src_name: str | Sequence[str],
    *,
    compiler: str = "gcc",
    zig_target: str | None = None,
    cflags: Sequence[str] = (),
    ldflags: Sequence[str] = (),
    out_name: str | None = None,
) -> Path:
    """Compile sources from tests/fixtures/src into a cached binary and return its path.

    zig_target picks zig's C compiler for that target ("x86_64-linux-musl", "x86_64-linux-gnu.2.17");
    add "++" at the end ("x86_64-linux-gnu.2.17++") for zig's C++ driver.
    """
    sources = [src_name] if isinstance(src_name, str) else list(src_name)
    paths = [SOURCES / s for s in sources]
    argv = _compiler_argv(compiler, zig_target)
    key = hashlib.sha256()
    for part in [_tool_identity("zig" if compiler == "zig" else compiler), *argv[1:], *cflags, *ldflags]:
        key.update(part.encode() + b"\0")
    for path in paths:
        key.update(path.read_bytes())
    name = out_name or Path(sources[0]).stem
    out = CACHE / "fixtures" / key.hexdigest()[:16] / name
    if out.exists():
        return out
    with file_lock(out.parent / ".lock"):
        if not out.exists():
            tmp = out.with_name(f".{name}.tmp")
            cmd = [*argv, *cflags, "-o", str(tmp), *map(str, paths), *ldflags]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"fixture build failed: {' '.join(cmd)}\n{result.stderr[-3000:]}")
            os.replace(tmp, out)
    return out


def copy_fixture(source: Path, directory: Path, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (name or source.name)
    shutil.copy2(source, target)
    return target


def debian_root(suite: str) -> Path:
    """A Debian minbase root made with debootstrap, cached across runs (made again when missing)."""
    root = ROOTS / suite
    if (root / "etc" / "os-release").exists():
        return root
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        pytest.skip("debootstrap needs root")
    with file_lock(ROOTS / f".{suite}.lock"):
        if not (root / "etc" / "os-release").exists():
            _debootstrap(suite, root)
    return root


def _debootstrap(suite: str, root: Path) -> None:
    ROOTS.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _attempt in range(2):  # the mirror sometimes drops a connection; one retry is cheap
        tmp = Path(tempfile.mkdtemp(prefix=f".{suite}.", dir=ROOTS))
        cmd = ["debootstrap", "--variant=minbase", suite, str(tmp), MIRROR]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode == 0:
            if root.exists():
                shutil.rmtree(root)
            os.replace(tmp, root)
            return
        last_error = (result.stdout + result.stderr)[-2000:]
        shutil.rmtree(tmp, ignore_errors=True)
    raise RuntimeError(f"debootstrap {suite} failed:\n{last_error}")


def run_in_root(
    root: Path, program: Path, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Ground truth: copy a program into the root and run it there with chroot, as that release would."""
    inside = root / "tmp" / "elfship-test"
    inside.mkdir(parents=True, exist_ok=True)
    copy = inside / program.name
    shutil.copy2(program, copy)
    return subprocess.run(
        ["chroot", str(root), f"/tmp/elfship-test/{program.name}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
