"""Self-extracting bundles: unpack once, atomically, somewhere that allows exec; and the launcher's inflater."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elfship.bundle.archive import walk_tree, write_payload
from elfship.bundle.launcher import compiled_launcher, config_block
from elfship.bundle.model import LoaderSetup
from tests.support.fixtures import SOURCES
from tests.test_bundle_common import bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def who_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-extracting bundle of a program needing libwho.so.1 (and glibc, bundled)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed (apt-get install gcc)")
    work = tmp_path_factory.mktemp("who")
    lib = work / "libwho.so.1"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            '-DWHO="a"',
            "-Wl,-soname,libwho.so.1",
            "-o",
            str(lib),
            str(SOURCES / "bundle/who.c"),
        ],
        check=True,
    )
    program = work / "who"
    subprocess.run(
        ["gcc", "-o", str(program), str(SOURCES / "bundle/who_main.c"), str(lib), f"-Wl,-rpath,{work}"],
        check=True,
    )
    return bundle(program, work / "who.run")


def _env(**paths: Path | str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"]}
    env.update({key: str(value) for key, value in paths.items()})
    return env


def _run(program: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(program)], capture_output=True, env=env, timeout=120, check=False)


def _entries(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


@pytest.fixture
def noexec(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "noexec"
    target.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "noexec,mode=1777", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("mount not permitted here (needs root and mount rights)")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_concurrent_first_starts_unpack_once(who_run: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = _env(ELFSHIP_CACHE_DIR=cache)
    starts = [subprocess.Popen([str(who_run)], stdout=subprocess.PIPE, env=env) for _ in range(8)]
    outputs = [proc.communicate(timeout=120)[0] for proc in starts]
    assert [proc.returncode for proc in starts] == [0] * 8
    assert outputs == [b"a\n"] * 8
    published = _entries(cache)
    assert len(published) == 1 and len(published[0]) == 32  # one directory named by the hash, no leftovers


def test_second_start_does_not_unpack_again(who_run: Path, tmp_path: Path) -> None:
    env = _env(ELFSHIP_CACHE_DIR=tmp_path)
    assert _run(who_run, env).stdout == b"a\n"
    (unpacked,) = [tmp_path / name for name in _entries(tmp_path)]
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (unpacked, unpacked / "lib/libc.so.6")]
    assert _run(who_run, env).stdout == b"a\n"
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (unpacked, unpacked / "lib/libc.so.6")] == before


def test_default_cache_is_private_in_tmpdir(who_run: Path, tmp_path: Path) -> None:
    assert _run(who_run, _env(TMPDIR=tmp_path)).stdout == b"a\n"
    base = tmp_path / f"elfship-{os.getuid()}"
    assert base.stat().st_mode & 0o777 == 0o700
    assert len(_entries(base)) == 1


def test_noexec_tmp_falls_back_to_the_user_cache(who_run: Path, tmp_path: Path, noexec: Path) -> None:
    xdg = tmp_path / "xdg"
    assert _run(who_run, _env(TMPDIR=noexec, XDG_CACHE_HOME=xdg, HOME=tmp_path / "home")).stdout == b"a\n"
    assert len(_entries(xdg / "elfship")) == 1
    assert _entries(noexec / f"elfship-{os.getuid()}") == []
    home = tmp_path / "home"
    assert _run(who_run, _env(TMPDIR=noexec, HOME=home)).stdout == b"a\n"
    assert len(_entries(home / ".cache/elfship")) == 1


def test_nowhere_to_unpack_fails_in_one_line(who_run: Path, noexec: Path) -> None:
    done = _run(who_run, _env(TMPDIR=noexec, XDG_CACHE_HOME=noexec, HOME=noexec))
    assert done.returncode == 127
    message = done.stderr.decode().strip()
    assert len(message.splitlines()) == 1 and "ELFSHIP_CACHE_DIR" in message


def test_a_cache_base_others_can_write_is_skipped(who_run: Path, tmp_path: Path) -> None:
    shared = tmp_path / "tmp" / f"elfship-{os.getuid()}"
    shared.mkdir(parents=True)
    shared.chmod(0o777)  # someone could plant files there: never run from it
    xdg = tmp_path / "xdg"
    assert _run(who_run, _env(TMPDIR=tmp_path / "tmp", XDG_CACHE_HOME=xdg)).stdout == b"a\n"
    assert _entries(shared) == [] and len(_entries(xdg / "elfship")) == 1


def test_lost_files_are_unpacked_again(who_run: Path, tmp_path: Path) -> None:
    env = _env(ELFSHIP_CACHE_DIR=tmp_path)
    assert _run(who_run, env).returncode == 0
    (unpacked,) = [tmp_path / name for name in _entries(tmp_path)]
    (unpacked / "lib/ld-linux-x86-64.so.2").unlink()  # what a /tmp cleaner does to old files
    assert _run(who_run, env).stdout == b"a\n"
    assert (unpacked / "lib/ld-linux-x86-64.so.2").is_file()
    assert len(_entries(tmp_path)) == 1


def test_corrupt_payload_fails_cleanly(who_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.run"
    data = bytearray(who_run.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    broken.write_bytes(bytes(data))
    broken.chmod(0o755)
    cache = tmp_path / "cache"
    done = _run(broken, _env(ELFSHIP_CACHE_DIR=cache, TMPDIR=cache, HOME=cache))
    assert done.returncode == 127
    message = done.stderr.decode()
    assert (
        message.startswith("elfship launcher: corrupt payload")
        and "(fix: download the bundle again" in message
    )
    assert "no writable cache directory" not in message
    left = [os.path.join(top, name) for top, dirs, files in os.walk(cache) for name in dirs + files]
    assert all(path.endswith((f"elfship-{os.getuid()}", ".cache", "elfship")) for path in left), (
        left
    )  # bases only


def test_sh_fallback_self_extracting(who_run: Path, tmp_path: Path, noexec: Path) -> None:
    program = who_run.parent / "who"
    single = bundle(program, tmp_path / "who-sh.run", "--launcher", "sh")
    assert single.read_bytes().startswith(b"#!/bin/sh\n")
    xdg = tmp_path / "xdg"
    assert _run(single, _env(TMPDIR=noexec, XDG_CACHE_HOME=xdg)).stdout == b"a\n"
    assert len(_entries(xdg / "elfship")) == 1
    assert _run(single, _env(TMPDIR=noexec, XDG_CACHE_HOME=xdg)).stdout == b"a\n"


_FILES = st.dictionaries(
    keys=st.sampled_from(["a", "b.so", "sub/c", "sub/deeper/d", "e.txt", "f"]),
    values=st.one_of(
        st.binary(max_size=70_000),  # mostly stored blocks
        st.text(alphabet="abc \n", max_size=20_000).map(str.encode),  # fixed and dynamic Huffman
        st.tuples(st.binary(min_size=1, max_size=3000), st.integers(1, 60)).map(lambda t: t[0] * t[1]),
    ),
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=_FILES)
def test_launcher_inflates_what_python_deflates(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes]
) -> None:
    binary = compiled_launcher("x86_64")
    if binary is None:
        pytest.skip("no C compiler for the launcher (apt-get install musl-tools, or pip install ziglang)")
    work = tmp_path_factory.mktemp("inflate")
    tree = work / "tree"
    for name, content in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(content)
    (tree / "link").parent.mkdir(parents=True, exist_ok=True)
    os.symlink("sub/c", tree / "link")
    single = work / "x.run"
    setup = LoaderSetup(path="/bin/true", family="glibc", args=(), argv0=False)  # unpack, then run /bin/true
    with open(single, "wb") as handle:
        handle.write(binary)
        size, digest = write_payload(tree, walk_tree(tree), handle)
        handle.write(config_block("x", setup, payload_size=size, payload_hash=digest))
    single.chmod(0o755)
    done = _run(single, _env(ELFSHIP_CACHE_DIR=work / "cache"))
    assert done.returncode == 0, done.stderr
    unpacked = work / "cache" / digest
    for name, content in files.items():
        assert (unpacked / name).read_bytes() == content
    assert os.readlink(unpacked / "link") == "sub/c"
