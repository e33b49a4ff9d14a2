"""What keeps a bundle small, held to behaviour: glibc's large parts only when linked, gconv only for iconv,
and a self-extracting payload that is one solid block yet unpacks to exactly the files of the dir bundle.

Sizes themselves are printed by benchmarks/bench_bundle.py, not asserted here.
"""

from __future__ import annotations

import filecmp
import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from elfship.bundle.launcher import MAGIC
from elfship.bundle.policy import GLIBC_WHEN_LINKED
from tests.support.fixtures import build_c, debian_root
from tests.test_bundle_common import bundle, copy_bundle, place_in_root, require_root_user, run_in

HEADER = struct.Struct("<BBHIQQI")  # launcher.c: type, 0, path length, mode, size, stored, crc32
LIBM = Path("/lib/x86_64-linux-gnu/libm.so.6")


def _lib_names(directory: Path) -> set[str]:
    return set(os.listdir(directory / "lib"))


def test_unlinked_large_glibc_parts_stay_out(tmp_path: Path) -> None:
    plain = bundle(build_c("exit42.c"), tmp_path / "plain.bundle")
    carried = _lib_names(plain)
    assert not carried & GLIBC_WHEN_LINKED, carried
    assert {"libc.so.6", "libpthread.so.0", "libdl.so.2", "libnss_files.so.2"} <= carried  # the rest: whole
    assert "gconv" not in carried  # nothing calls iconv
    assert b"GCONV_PATH" not in (plain / "exit42").read_bytes()
    assert subprocess.run([str(plain / "exit42")], check=False).returncode == 42
    if not LIBM.exists():
        pytest.skip(f"{LIBM} not on this machine")
    added = bundle(build_c("exit42.c"), tmp_path / "added.bundle", "--add", str(LIBM))
    assert "libm.so.6" in _lib_names(added)  # what a program that dlopens libm passes


@pytest.fixture(scope="module")
def bullseye() -> Iterator[tuple[Path, str]]:
    require_root_user()
    with place_in_root(debian_root("bullseye")) as place:
        yield place


def test_a_linked_libm_goes_in_and_runs_on_an_older_glibc(bullseye: tuple[Path, str], tmp_path: Path) -> None:
    """pow.c needs libm's GLIBC_2.29 nodes, which Debian 11's libm has: were libm left out, the root's own
    libm (glibc 2.31) would load next to the bundled libc (2.36). It must come from the bundle."""
    here, inside = bullseye
    made = bundle(build_c("pow.c", ldflags=["-lm"], out_name="pow"), tmp_path / "pow.bundle")
    assert "libm.so.6" in _lib_names(made) and "libmvec.so.1" not in _lib_names(made)
    copy_bundle(made, here)
    done = run_in(here.parent.parent, [f"{inside}/pow.bundle/pow", "2"], env={"LD_DEBUG": "libs"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"1024.000000 7.389056\n"
    loaded = [line for line in done.stderr.decode().splitlines() if "calling init: " in line]
    assert any(f"{inside}/pow.bundle/lib/libm.so.6" in line for line in loaded), loaded


def _payload_entries(run_file: Path) -> list[tuple[str, str, int, int]]:
    """(type, path, size, stored) of every entry of a C self-extracting file, read by launcher.c's format."""
    data = run_file.read_bytes()
    assert data.endswith(MAGIC)
    (config_len,) = struct.unpack("<I", data[-12:-8])
    config_start = len(data) - 12 - config_len
    config = dict(line.split("=", 1) for line in data[config_start:-12].decode().splitlines())
    payload = data[config_start - int(config["payload_size"]) : config_start]
    entries, pos = [], 0
    while pos < len(payload):
        kind, _, path_len, _mode, size, stored, _crc = HEADER.unpack_from(payload, pos)
        pos += HEADER.size
        path = payload[pos : pos + path_len].decode()
        entries.append((chr(kind), path, size, stored))
        pos += path_len + stored
    assert pos == len(payload)
    return entries


def test_the_payload_is_one_solid_block_of_every_file(tmp_path: Path) -> None:
    program = build_c("exit42.c")
    run_file = bundle(program, tmp_path / "exit42.run")
    directory = bundle(program, tmp_path / "exit42.bundle")
    entries = _payload_entries(run_file)
    blocks = [e for e in entries if e[0] == "X"]
    files = [e for e in entries if e[0] in "sxfr"]
    assert len(blocks) == 1 and blocks[0][1] == ""
    assert all(kind == "s" for kind, *_ in files), files
    assert sum(size for *_, size, _stored in files) == blocks[0][2]  # the block holds exactly the files
    assert blocks[0][3] < blocks[0][2] // 2  # and is compressed
    cache = tmp_path / "cache"
    done = subprocess.run([str(run_file)], env={"ELFSHIP_CACHE_DIR": str(cache)}, check=False)
    assert done.returncode == 42
    (unpacked,) = [cache / name for name in os.listdir(cache)]
    for _kind, path, _size, _stored in files:
        if path != "elfship-bundle.json":  # the manifest names the format
            assert filecmp.cmp(unpacked / path, directory / path, shallow=False), path


def test_a_libm_loaded_by_name_goes_in_and_runs_on_an_older_glibc(
    bullseye: tuple[Path, str], tmp_path: Path
) -> None:
    """dlopen("libm.so.6") is no DT_NEEDED, but the name stands in the program's strings: libm goes in, and
    the bundled one is what the program loads in Debian 11 (glibc 2.31, under the bundle's 2.36)."""
    here, inside = bullseye
    program = build_c("dlopen_libm.c", ldflags=["-ldl"], out_name="dlopen_libm")
    made = bundle(program, tmp_path / "dl.bundle")
    assert "libm.so.6" in _lib_names(made)
    copy_bundle(made, here)
    done = run_in(here.parent.parent, [f"{inside}/dl.bundle/dlopen_libm"], env={"LD_DEBUG": "libs"})
    assert done.returncode == 0 and done.stdout == b"cos(0) = 1.0\n", (done.stdout, done.stderr)
    loaded = [
        line for line in done.stderr.decode().splitlines() if "calling init:" in line and "libm.so" in line
    ]
    assert loaded and all(f"{inside}/dl.bundle/lib/libm.so.6" in line for line in loaded), loaded
