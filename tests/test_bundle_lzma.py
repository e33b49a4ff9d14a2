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
