"""Build test fixtures at test time (never committed) and cache them outside the repo.

Each fixture is keyed by a hash of its source, the compiler's identity and the flags, so an edited source or
a new compiler rebuilds it, and a second run (or a second xdist worker) reuses it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import struct
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


_HELD: dict[Path, int] = {}  # locks this process holds: taking one again nests instead of deadlocking


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise work on one cache entry between processes (xdist workers, parallel CI jobs). Reentrant
    within a process: flock() on a second descriptor of the same file would wait for ourselves."""
    if path in _HELD:
        _HELD[path] += 1
        try:
            yield
        finally:
            _HELD[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _HELD[path] = 1
        try:
            yield
        finally:
            del _HELD[path]
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


def debian_root(suite: str, arch: str = "amd64") -> Path:
    """A Debian minbase root made with debootstrap, cached across runs (made again when missing).
    arch="arm64": a complete arm64 root, its second stage run under qemu-user through binfmt_misc (minutes,
    once); not the `--foreign` one (SUITE-arm64) that the generator tests read."""
    name = suite if arch == "amd64" else f"{suite}-{arch}-complete"
    root = ROOTS / name
    done = root / "etc" / "os-release"
    if done.exists() and not (root / "debootstrap").exists():  # debootstrap/ remains until stage two ends
        _make_enterable(root)
        return root
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        pytest.skip("debootstrap needs root")
    with file_lock(ROOTS / f".{name}.lock"):
        if not done.exists() or (root / "debootstrap").exists():
            with binfmt_for(arch):
                _debootstrap(suite, root, arch)
    return root


QEMU_FOR = {"arm64": "aarch64"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# The ELF header of an aarch64 executable and the bits that matter (as Debian's qemu-user-static has them).
AARCH64_MAGIC = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
AARCH64_MASK = b"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
OUR_ENTRY = "elfship-test-aarch64"


def qemu_static(machine: str = "aarch64") -> str:
    found = shutil.which(f"qemu-{machine}-static")
    if found is None:
        pytest.skip(f"qemu-{machine}-static not installed (apt-get install qemu-user-static)")
    return found


@contextmanager
def binfmt_for(arch: str) -> Iterator[None]:
    """While inside: the kernel runs ARCH programs through a static qemu (flag F: the interpreter is opened
    now, so it works inside a chroot). Uses a registration that is already there; otherwise registers its
    own entry (and mounts binfmt_misc) and removes exactly that afterwards."""
    if arch == "amd64":
        yield
        return
    qemu = qemu_static(QEMU_FOR[arch])
    with file_lock(ROOTS / ".binfmt.lock"), _registered(qemu):
        yield


@contextmanager
def no_binfmt_for_aarch64() -> Iterator[None]:
    """While inside: no registration of ours is active (others wait), and none of the host's runs aarch64."""
    with file_lock(ROOTS / ".binfmt.lock"):
        if (BINFMT / "register").exists() and _aarch64_handled():
            pytest.skip("binfmt_misc runs aarch64 programs on this machine (a qemu registration with flag F)")
        yield


@contextmanager
def _registered(qemu: str) -> Iterator[None]:
    mounted = False
    if not (BINFMT / "register").exists():
        if subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)]).returncode != 0:
            pytest.skip("cannot mount binfmt_misc (needs root, and a kernel with binfmt_misc)")
        mounted = True
    registered = False
    try:
        if not _aarch64_handled():
            line = b":" + OUR_ENTRY.encode() + b":M::" + _escape(AARCH64_MAGIC) + b":" + _escape(AARCH64_MASK)
            (BINFMT / "register").write_bytes(line + b":" + qemu.encode() + b":F")
            registered = True
        yield
    finally:
        if registered:
            (BINFMT / OUR_ENTRY).write_text("-1")
        if mounted:
            subprocess.run(["umount", str(BINFMT)])


def _aarch64_handled() -> bool:
    """An enabled entry with F for aarch64 ELF files (e.g. binfmt-support's qemu-aarch64) already there."""
    magic = "magic " + AARCH64_MAGIC.hex()
    for entry in BINFMT.iterdir():
        if entry.name in ("register", "status"):
            continue
        text = entry.read_text(errors="replace")
        flags = next((line for line in text.splitlines() if line.startswith("flags:")), "")
        if text.startswith("enabled") and magic in text and "F" in flags:
            return True
    return False


def _escape(data: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in data)


def _debootstrap(suite: str, root: Path, arch: str = "amd64") -> None:
    ROOTS.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _attempt in range(2):  # the mirror sometimes drops a connection; one retry is cheap
        tmp = Path(tempfile.mkdtemp(prefix=f".{suite}.", dir=ROOTS))
        cmd = ["debootstrap", f"--arch={arch}", "--variant=minbase", suite, str(tmp), MIRROR]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode == 0:
            tmp.chmod(0o755)  # mkdtemp made it 0700: an ordinary user (check --run tests) must enter it
            if root.exists():
                shutil.rmtree(root)
            os.replace(tmp, root)
            return
        last_error = (result.stdout + result.stderr)[-2000:]
        shutil.rmtree(tmp, ignore_errors=True)
    raise RuntimeError(f"debootstrap {suite} failed:\n{last_error}")


def _make_enterable(root: Path) -> None:
    """Roots cached by older runs were left 0700 by mkdtemp; open them (and the path to them) to everyone."""
    if root.stat().st_mode & 0o055 != 0o055:
        root.chmod(0o755)


def run_in_root(
    root: Path, program: Path, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Ground truth: copy a program into the root and run it there with chroot, as that release would.
    Holds the binfmt lock: a qemu registration made by another test's binfmt_for() would otherwise let the
    kernel start a foreign program that the real server would refuse."""
    inside = root / "tmp" / "elfship-test"
    inside.mkdir(parents=True, exist_ok=True)
    copy = inside / program.name
    shutil.copy2(program, copy)
    with file_lock(ROOTS / ".binfmt.lock"):
        return subprocess.run(
            ["chroot", str(root), f"/tmp/elfship-test/{program.name}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


RUST_SOURCES = TESTS / "fixtures" / "rust"
CARGO_TARGETS = CACHE / "cargo-target"


def build_cargo(
    crate: str, *, rustflags: Sequence[str] = (), target: str | None = None, out_name: str | None = None
) -> Path:
    """Build tests/fixtures/rust/<crate> with `cargo build --release` and return the cached binary.

    The crate is copied out of the repo first (cargo writes Cargo.lock next to Cargo.toml), and its target
    directory lives at ~/.cache/elfship-tests/cargo-target/<crate> so rebuilds are incremental.
    """
    if shutil.which("cargo") is None:
        pytest.skip("cargo not installed (https://rustup.rs)")
    source = RUST_SOURCES / crate
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.name != "Cargo.lock")
    key = hashlib.sha256()
    for part in [_tool_identity("rustc"), *rustflags, target or "host"]:
        key.update(part.encode() + b"\0")
    for path in files:
        key.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    package = _cargo_package_name(source / "Cargo.toml")
    name = out_name or package
    out = CACHE / "fixtures" / key.hexdigest()[:16] / name
    if out.exists():
        return out
    with file_lock(CARGO_TARGETS / f".{crate}.lock"):
        if not out.exists():
            _cargo_build(source, crate, package, rustflags, target, out)
    return out


def _cargo_package_name(manifest: Path) -> str:
    for line in manifest.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "name":
            return value.strip().strip('"')
    raise RuntimeError(f"no package name in {manifest}")


def _cargo_build(
    source: Path, crate: str, package: str, rustflags: Sequence[str], target: str | None, out: Path
) -> None:
    workdir = CARGO_TARGETS / f"{crate}-src"
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(source, workdir, ignore=shutil.ignore_patterns("Cargo.lock", "target"))
    target_dir = CARGO_TARGETS / crate
    env = {**os.environ, "CARGO_TARGET_DIR": str(target_dir), "RUSTFLAGS": " ".join(rustflags)}
    cmd = ["cargo", "build", "--release", "--quiet", *(["--target", target] if target else [])]
    result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"fixture build failed: {' '.join(cmd)}\n{result.stderr[-3000:]}")
    built = target_dir / (target or "") / "release" / package
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.copy2(built, tmp)
    os.replace(tmp, out)


def strip_section_headers(source: Path, out: Path) -> Path:
    """A copy of an ELF file without section headers, as `sstrip` makes it.

    e_shoff, e_shnum and e_shstrndx are zeroed and the file is cut after the last byte a segment (or the
    program header table) covers, so the section header table and the non-loaded sections are gone.
    The loader needs none of it: the program still runs.
    """
    data = bytearray(source.read_bytes())
    is64, little = data[4] == 2, data[5] == 1
    e = "<" if little else ">"
    if is64:  # e_shoff and e_shnum offsets in the ELF header
        ehdr, phdr, shoff_at, shnum_at = (
            struct.Struct(e + "16xHHIQQQIHHHHHH"),
            struct.Struct(e + "IIQQQQQQ"),
            40,
            60,
        )
    else:
        ehdr, phdr, shoff_at, shnum_at = (
            struct.Struct(e + "16xHHIIIIIHHHHHH"),
            struct.Struct(e + "IIIIIIII"),
            32,
            48,
        )
    fields = ehdr.unpack_from(data, 0)
    phoff, ehsize, phentsize, phnum = fields[4], fields[7], fields[8], fields[9]
    end = max(ehsize, phoff + phentsize * phnum)
    for index in range(phnum):
        raw = phdr.unpack_from(data, phoff + index * phentsize)
        offset, filesz = (raw[2], raw[5]) if is64 else (raw[1], raw[4])
        end = max(end, offset + filesz)
    struct.pack_into(e + ("Q" if is64 else "I"), data, shoff_at, 0)  # e_shoff
    struct.pack_into(e + "HH", data, shnum_at, 0, 0)  # e_shnum, e_shstrndx
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(bytes(data[:end]))
    tmp.chmod(source.stat().st_mode & 0o777)
    os.replace(tmp, out)
    return out
