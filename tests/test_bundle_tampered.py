"""Tampered self-extracting payloads, run as `nobody`: nothing may land outside the cache directory.

Each payload is written here byte by byte (not with elfship's writer, which refuses to make them): entries
with `..`, absolute entries, symlink entries pointing outside (absolute, relative, and a chain of links each
harmless alone), a hard link out, and files written through any of those. Against the C launcher's payload
format and the sh stub's tar.gz (the latter with GNU tar, busybox's tar, and a tar with no protection of its
own). A positive control of the same shape shows the hand-written payloads are otherwise well-formed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import struct
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from elfship.bundle.launcher import compiled_launcher, config_block
from elfship.bundle.model import LoaderSetup
from elfship.bundle.sh_stub import sh_self_extracting_stub
from tests.support.fixtures import SOURCES
from tests.test_bundle_common import VICTIM, Scene, hostile_scene, require_setpriv, run_as_victim

pytestmark = pytest.mark.slow

# After unpacking, the launcher would exec /bin/true: the tests look only at what unpacking did.
SETUP = LoaderSetup(path="/bin/true", family="glibc", args=(), argv0=False)
HEADER = struct.Struct("<BBHIQQI")  # launcher.c: type, 0, path length, mode, size, stored, crc32
SOLID_FILTERS = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA1, "preset": 6, "lc": 3, "lp": 0, "pb": 2}]
# A base is TMPDIR/elfship-UID and entries go to BASE/.HASH.PID.tmp/: three levels up is the scene's top.
UP = "../../../outside"


@pytest.fixture
def scene() -> Iterator[Scene]:
    require_setpriv()
    with hostile_scene() as made:
        yield made


def _assert_refused(scene: Scene, done_stderr: str, returncode: int) -> None:
    assert returncode == 127
    (line,) = done_stderr.splitlines()
    assert line.startswith("elfship launcher: corrupt payload in "), line
    assert "(fix: download the bundle again" in line
    assert scene.outside_entries() == [], "written outside the cache directory"
    assert os.listdir(scene.base) == [], "a partial unpack was left behind"
    assert os.listdir(scene.tmp) == [f"elfship-{VICTIM}"]


# ---------- the C launcher's payload ----------


def c_payload(entries: list[tuple[str, str, bytes]]) -> bytes:
    """launcher.c's payload format, written here independently of elfship's writer."""
    payload = b""
    for kind, path, data in entries:
        name = path.encode()
        mode = {"d": 0o755, "l": 0o777, "r": 0o644, "f": 0o644, "X": 0, "s": 0o644}[kind]
        stored, crc = data, zlib.crc32(data)
        if kind == "f":  # raw DEFLATE, as launcher.c inflates it
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            stored = packer.compress(data) + packer.flush()
        elif kind == "X":  # a solid block: the contents of the 's' entries after it, x86 BCJ + raw LZMA
            stored, crc = lzma.compress(data, lzma.FORMAT_RAW, filters=SOLID_FILTERS), 0
        elif kind == "s":  # a file taken from the block: nothing stored
            stored = b""
        header = HEADER.pack(ord(kind), 0, len(name), mode, len(data), len(stored), crc)
        payload += header + name + stored
    return payload


def c_run_file(scene: Scene, payload: bytes) -> Path:
    binary = compiled_launcher("x86_64")
    if binary is None:
        pytest.skip("no C compiler for the launcher (apt-get install musl-tools, or pip install ziglang)")
    digest = hashlib.sha256(payload).hexdigest()[:32]
    run_file = scene.top / "tampered.run"
    run_file.write_bytes(
        binary + payload + config_block("victim", SETUP, payload_size=len(payload), payload_hash=digest)
    )
    run_file.chmod(0o755)
    return run_file


def _c_run(scene: Scene, entries: list[tuple[str, str, bytes]]) -> Path:
    return c_run_file(scene, c_payload(entries))


def c_cases(outside: Path) -> dict[str, list[tuple[str, str, bytes]]]:
    return {
        "dotdot": [("d", "lib", b""), ("r", f"lib/../{UP}/dotdot", b"pwned")],
        "absolute": [("r", f"{outside}/absolute", b"pwned")],
        "link-absolute": [("l", "evil", str(outside).encode()), ("r", "evil/through-link", b"pwned")],
        "link-relative": [("l", "evil", UP.encode()), ("r", "evil/through-link", b"pwned")],
        # x points inside (to a/), y's target is harmless read from where y's path says it is (a/b/c/x/),
        # but y would really be created in a/, from where the same target climbs out of the cache.
        "link-chain": [
            ("d", "a", b""),
            ("d", "a/b", b""),
            ("d", "a/b/c", b""),
            ("l", "a/b/c/x", b"../.."),
            ("l", "a/b/c/x/y", b"../../../../outside"),
            ("r", "a/b/c/x/y/chain", b"pwned"),
        ],
        "dotdot-inside-target": [("d", "lib", b""), ("l", "lib/x", b"a/../../../../outside")],
        "solid-dotdot": [("d", "lib", b""), ("X", "", b"pwned"), ("s", f"lib/../{UP}/dotdot", b"pwned")],
        "solid-absolute": [("X", "", b"pwned"), ("s", f"{outside}/absolute", b"pwned")],
    }


def test_c_well_formed_control(scene: Scene) -> None:
    run_file = _c_run(
        scene,
        [
            ("d", "lib", b""),
            ("r", "lib/data", b"hello"),
            ("l", "lib/alias", b"data"),
            ("X", "", b"solid one, solid two"),
            ("s", "lib/solid1", b"solid one, "),
            ("s", "lib/solid2", b"solid two"),
            ("d", "libexec", b""),
            ("l", "libexec/victim", b"/bin/true"),  # the target's own loader: the one absolute link allowed
        ],
    )
    done = run_as_victim(run_file, scene)
    assert done.returncode == 0, done.stderr
    (unpacked,) = [scene.base / name for name in os.listdir(scene.base)]
    assert (unpacked / "lib/alias").read_bytes() == b"hello"
    assert (unpacked / "lib/solid2").read_bytes() == b"solid two"


@pytest.mark.parametrize("case", sorted(c_cases(Path("/x"))))
def test_c_launcher_refuses(scene: Scene, case: str) -> None:
    done = run_as_victim(_c_run(scene, c_cases(scene.outside)[case]), scene)
    _assert_refused(scene, done.stderr, done.returncode)


# ---------- the sh stub's tar.gz payload ----------


def member(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return raw.getvalue()


def sh_run_file(scene: Scene, archive: bytes, links: list[tuple[str, str]]) -> Path:
    """A sh self-extracting file whose payload is `archive` (a .tar.gz, or any bytes)."""
    digest = hashlib.sha256(archive).hexdigest()[:32]
    run_file = scene.top / "tampered.run"
    run_file.write_bytes(sh_self_extracting_stub("victim", SETUP, digest, links) + archive)
    run_file.chmod(0o755)
    return run_file


def _sh_run(scene: Scene, members: list[tuple[tarfile.TarInfo, bytes]], links: list[tuple[str, str]]) -> Path:
    return sh_run_file(scene, gzip.compress(tar_bytes(members), mtime=0), links)


def sh_cases(outside: Path) -> dict[str, tuple[list[tuple[tarfile.TarInfo, bytes]], list[tuple[str, str]]]]:
    return {
        "dotdot": ([member("lib", tarfile.DIRTYPE), member(f"lib/../{UP}/dotdot", data=b"pwned")], []),
        "absolute": ([member(f"{outside}/absolute", data=b"pwned")], []),
        "link-absolute": (
            [
                member("evil", tarfile.SYMTYPE, link=str(outside)),
                member("evil/through-link", data=b"pwned"),
            ],
            [],
        ),
        "link-relative": (
            [member("evil", tarfile.SYMTYPE, link=UP), member("evil/through-link", data=b"pwned")],
            [],
        ),
        "hardlink": (
            [member("hard", tarfile.LNKTYPE, link=f"{outside}/target"), member("hard", data=b"pwned")],
            [],
        ),
        "stub-link-absolute": ([member("lib", tarfile.DIRTYPE)], [("evil", str(outside))]),
        "stub-link-relative": ([member("lib", tarfile.DIRTYPE)], [("lib/evil", f"../{UP}")]),
    }


TOOLS = ["system", "busybox", "naive-tar"]


def _tools(scene: Scene, which: str) -> dict[str, Any]:
    """How to start the stub: the system's sh and tools (GNU tar), busybox's, or the system's with a tar that
    has no protection of its own (tests/fixtures/src/bundle/naive_tar.py): then the stub's checks alone count."""
    if which == "system":
        return {}
    if which == "naive-tar":
        if not Path("/usr/bin/python3").exists():
            pytest.skip("/usr/bin/python3 missing (runs the unprotected tar)")
        tools = scene.top / "naive-bin"
        tools.mkdir(exist_ok=True)
        shutil.copyfile(SOURCES / "bundle" / "naive_tar.py", tools / "tar")
        (tools / "tar").chmod(0o755)
        tools.chmod(0o755)
        return {"path": f"{tools}:/usr/bin:/bin"}
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        pytest.skip("busybox not installed (apt-get install busybox)")
    tools = scene.top / "busybox-bin"
    tools.mkdir(exist_ok=True)
    for tool in ("sh", "ls", "tar", "gzip", "tail", "id", "mkdir", "chmod", "rm", "mv", "ln", "cat", "pwd"):
        if not (tools / tool).exists():
            (tools / tool).symlink_to(busybox)
    tools.chmod(0o755)
    return {"path": str(tools), "shell": str(tools / "sh")}


@pytest.mark.parametrize("tools", TOOLS)
def test_sh_well_formed_control(scene: Scene, tools: str) -> None:
    members = [
        member("lib", tarfile.DIRTYPE),
        member("lib/data", data=b"hello"),
        member("libexec", tarfile.DIRTYPE),
    ]
    run_file = _sh_run(scene, members, [("lib/alias", "data"), ("libexec/victim", "/bin/true")])
    done = run_as_victim(run_file, scene, **_tools(scene, tools))
    assert done.returncode == 0, done.stderr
    (unpacked,) = [scene.base / name for name in os.listdir(scene.base)]
    assert (unpacked / "lib/alias").read_bytes() == b"hello"


@pytest.mark.parametrize("tools", TOOLS)
@pytest.mark.parametrize("case", sorted(sh_cases(Path("/x"))))
def test_sh_stub_refuses(scene: Scene, case: str, tools: str) -> None:
    target = scene.outside / "target"  # what the hard link case aims at: the victim's own file
    target.write_bytes(b"original")
    os.chown(target, VICTIM, VICTIM)
    members, links = sh_cases(scene.outside)[case]
    done = run_as_victim(_sh_run(scene, members, links), scene, **_tools(scene, tools))
    assert target.read_bytes() == b"original"
    target.unlink()
    _assert_refused(scene, done.stderr, done.returncode)
