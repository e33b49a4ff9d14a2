"""The C launcher's LZMA decoder (unlzma.c) against Python's lzma: what one writes the other reads back byte
for byte, and a damaged stream is a corrupt payload (exit 127, nothing run, nothing left), never a crash.

Entries are written here by hand in launcher.c's payload format, forced to type 'x' (LZMA), so every case
reaches the decoder whatever elfship's writer would have chosen.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elfship.bundle.archive import LZMA_FILTERS
from elfship.bundle.launcher import compiled_launcher, config_block
from elfship.bundle.model import LoaderSetup

HEADER = struct.Struct("<BBHIQQI")  # launcher.c: type, 0, path length, mode, size, stored, crc32
SETUP = LoaderSetup(path="/bin/true", family="glibc", args=(), argv0=False)  # unpack, then run /bin/true
LIBRARY = Path("/lib/x86_64-linux-gnu/libc.so.6")


def launcher() -> bytes:
    binary = compiled_launcher("x86_64")
    if binary is None:
        pytest.skip("no C compiler for the launcher (apt-get install musl-tools, or pip install ziglang)")
    return binary


def packed(data: bytes) -> bytes:
    packer = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=LZMA_FILTERS)
    return packer.compress(data) + packer.flush()


def entry(name: str, data: bytes, stored: bytes, *, size: int | None = None) -> bytes:
    path = name.encode()
    size = len(data) if size is None else size
    return HEADER.pack(ord("x"), 0, len(path), 0o644, size, len(stored), zlib.crc32(data)) + path + stored


def run_payload(work: Path, payload: bytes) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    digest = hashlib.sha256(payload).hexdigest()[:32]
    single = work / "x.run"
    single.write_bytes(
        launcher() + payload + config_block("x", SETUP, payload_size=len(payload), payload_hash=digest)
    )
    single.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "ELFSHIP_CACHE_DIR": str(work / "cache")}
    done = subprocess.run([str(single)], capture_output=True, env=env, timeout=120, check=False)
    return done, work / "cache" / digest


_DATA = st.one_of(
    st.binary(min_size=1, max_size=40_000),  # literals only
    st.text(alphabet="ab \n", min_size=1, max_size=30_000).map(str.encode),  # matches and repeated distances
    st.tuples(st.binary(min_size=1, max_size=2000), st.integers(1, 300)).map(lambda t: t[0] * t[1]),  # long
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(_DATA, min_size=1, max_size=5))
def test_launcher_decodes_what_python_lzma_writes(
    tmp_path_factory: pytest.TempPathFactory, files: list[bytes]
) -> None:
    work = tmp_path_factory.mktemp("unlzma")
    payload = b"".join(entry(f"f{i}", data, packed(data)) for i, data in enumerate(files))
    done, unpacked = run_payload(work, payload)
    assert done.returncode == 0, done.stderr
    for i, data in enumerate(files):
        assert (unpacked / f"f{i}").read_bytes() == data


def test_a_real_library_round_trips(tmp_path: Path) -> None:
    """Machine code (the literal coder's predictions after a match, long distances, the align coder)."""
    data = LIBRARY.read_bytes()
    done, unpacked = run_payload(tmp_path, entry("libc.so.6", data, packed(data)))
    assert done.returncode == 0, done.stderr
    assert (unpacked / "libc.so.6").read_bytes() == data


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "cut-in-half",
        "flipped-early",
        "flipped-late",
        "size-too-large",
        "size-too-small",
        "ratio",
    ],
)
def test_a_damaged_stream_is_a_corrupt_payload(tmp_path: Path, damage: str) -> None:
    data = LIBRARY.read_bytes()[:200_000]
    stream = bytearray(packed(data))
    size = len(data)
    if damage == "truncated":
        stream = stream[:-40]
    elif damage == "cut-in-half":
        stream = stream[: len(stream) // 2]
    elif damage in ("flipped-early", "flipped-late"):
        at = 20 if damage == "flipped-early" else len(stream) - 200
        stream[at] ^= 0x5A
    elif damage == "size-too-large":
        size += 1000
    elif damage == "size-too-small":
        size -= 1000
    else:  # a header claiming more than MAX_LZMA_RATIO: refused before any allocation
        size = len(stream) * 2000
    done, unpacked = run_payload(tmp_path, entry("lib", data, bytes(stream), size=size))
    assert done.returncode == 127, (damage, done.stderr)
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith("elfship launcher: corrupt payload in "), line
    assert not unpacked.exists() and os.listdir(tmp_path / "cache") == []


# ---------- solid blocks: one stream for many files ----------


def block(data: bytes, *, size: int | None = None, path: bytes = b"") -> bytes:
    stored = packed(data)
    size = len(data) if size is None else size
    return HEADER.pack(ord("X"), 0, len(path), 0, size, len(stored), 0) + path + stored


def from_block(name: str, data: bytes, *, stored: bytes = b"", crc: int | None = None) -> bytes:
    path = name.encode()
    crc = zlib.crc32(data) if crc is None else crc
    return HEADER.pack(ord("s"), 0, len(path), 0o644, len(data), len(stored), crc) + path + stored


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=st.lists(st.lists(_DATA, min_size=1, max_size=4), min_size=1, max_size=3))
def test_solid_blocks_round_trip(tmp_path_factory: pytest.TempPathFactory, blocks: list[list[bytes]]) -> None:
    work = tmp_path_factory.mktemp("solid")
    payload = b""
    for b, files in enumerate(blocks):
        payload += block(b"".join(files))
        payload += b"".join(from_block(f"b{b}f{i}", data) for i, data in enumerate(files))
    done, unpacked = run_payload(work, payload)
    assert done.returncode == 0, done.stderr
    for b, files in enumerate(blocks):
        for i, data in enumerate(files):
            assert (unpacked / f"b{b}f{i}").read_bytes() == data


def test_real_libraries_round_trip_in_one_block(tmp_path: Path) -> None:
    libraries = [LIBRARY.read_bytes(), (LIBRARY.parent / "libpthread.so.0").read_bytes()]
    payload = (
        block(b"".join(libraries)) + from_block("libc.so.6", libraries[0]) + from_block("p", libraries[1])
    )
    done, unpacked = run_payload(tmp_path, payload)
    assert done.returncode == 0, done.stderr
    assert (unpacked / "libc.so.6").read_bytes() == libraries[0]
    assert (unpacked / "p").read_bytes() == libraries[1]


_A, _B = b"first file " * 50, b"second file " * 70


@pytest.mark.parametrize(
    "case",
    [
        "file-before-any-block",
        "block-not-used-up",
        "block-not-used-up-before-the-next",
        "file-past-the-block",
        "file-stores-bytes",
        "file-crc",
        "block-with-a-path",
        "block-size-too-large",
        "block-ratio",
        "empty-block",
    ],
)
def test_a_damaged_solid_payload_is_corrupt(tmp_path: Path, case: str) -> None:
    """Every decoded byte belongs to a file whose CRC is checked; anything else is a corrupt payload."""
    both = block(_A + _B)
    payload = {
        "file-before-any-block": from_block("a", _A),
        "block-not-used-up": both + from_block("a", _A),
        "block-not-used-up-before-the-next": both + from_block("a", _A) + block(_B) + from_block("b", _B),
        "file-past-the-block": block(_A) + from_block("a", _A + b"x"),
        "file-stores-bytes": both + from_block("a", _A, stored=b"zz") + from_block("b", _B),
        "file-crc": both + from_block("a", _A, crc=zlib.crc32(_A) ^ 1) + from_block("b", _B),
        "block-with-a-path": block(_A, path=b"a") + from_block("a", _A),
        "block-size-too-large": block(_A, size=len(_A) + 100) + from_block("a", _A + bytes(100)),
        "block-ratio": block(_A, size=len(packed(_A)) * 2000),
        "empty-block": block(b"", size=0),
    }[case]
    done, unpacked = run_payload(tmp_path, payload)
    assert done.returncode == 127, (case, done.stderr)
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith("elfship launcher: corrupt payload in "), line
    assert not unpacked.exists() and os.listdir(tmp_path / "cache") == []
