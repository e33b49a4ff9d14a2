"""Image.contains, the static-libc signature search: read-only data first, libc's memmem, sparse files.

Every way of searching (.rodata or the read-only data first and backwards, memmem over the file in place,
Python's find over the data runs of a sparse file) must answer exactly what `needle in the file's bytes`
answers.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from elfship.elf import search
from elfship.elf.headers import read_header, read_section_table, read_segments
from elfship.elf.image import Image
from elfship.elf.libc import GLIBC_STATIC_SIGNATURES, MUSL_STATIC_SIGNATURES, NSS_SIGNATURE
from elfship.elf.reader import _read_only_data
from tests.support.fixtures import build_c

SIGNATURES = (*GLIBC_STATIC_SIGNATURES, *MUSL_STATIC_SIGNATURES, NSS_SIGNATURE)


@pytest.fixture(params=["memmem", "python"])
def search_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both search paths: libc's memmem when the machine has it, and Python's find (memmem unavailable)."""
    if request.param == "memmem":
        if not search.have_memmem():
            pytest.skip("no memmem in this C library (ctypes cannot find it)")
    else:
        monkeypatch.setattr(search, "_loaded", True)
        monkeypatch.setattr(search, "_memmem", None)
    yield request.param


def _needles(data: bytes, ranges: list[tuple[int, int]], count: int = 60) -> list[bytes]:
    """Pieces of the file at random places and at the edges of the ranges searched first (a needle that
    straddles an edge must still be found), plus the signatures and strings that are surely absent."""
    rng = random.Random(len(data))
    places = [0, len(data) - 16] + [rng.randrange(len(data) - 16) for _ in range(count)]
    for low, high in ranges:
        places += [max(low - 8, 0), low, max(high - 8, 0), min(high, len(data) - 16)]
    needles = [data[p : p + rng.randrange(4, 16)] for p in places]
    return [*needles, *SIGNATURES, b"elfship: surely not in any binary \x01\x02", b"\xff" * 40]


def _static_program() -> Path:
    return build_c("nss.c", cflags=["-static"], out_name="nss-static")


@pytest.mark.parametrize("first", ["file-order", "rodata-first", "read-only-segments-first"])
def test_static_program_search_agrees_with_bytes(search_way: str, first: str) -> None:
    path = _static_program()
    data = path.read_bytes()
    with Image(str(path)) as image:
        header = read_header(image)
        sections = read_section_table(image, header) if first == "rodata-first" else None
        ranges = _read_only_data(read_segments(image, header), sections)
        assert len(ranges) == 1 if sections else ranges, "a static glibc program has read-only data"
        if first != "file-order":
            image.search_first(ranges)
        for needle in _needles(data, ranges):
            assert image.contains(needle) == (needle in data), needle


def test_large_mapped_file_agrees_with_bytes(search_way: str, tmp_path: Path) -> None:
    """A file above the read-into-memory threshold is mapped: memmem searches it in place, or Python the map."""
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(300_000)) + b"GLIBC_TUNABLES" + bytes(5000)
    path = tmp_path / "big"
    path.write_bytes(data)
    with Image(str(path)) as image:
        assert not isinstance(image.data, bytes), "300 KB must be mapped, not read"
        image.search_first([(100_000, 200_000), (250_000, 300_010)])
        for needle in _needles(data, [(100_000, 200_000), (250_000, 300_010)]):
            assert image.contains(needle) == (needle in data), needle


def test_sparse_file_searches_data_runs(search_way: str, tmp_path: Path) -> None:
    """Holes are skipped (never copied for memmem), yet a needle beside a hole, or in data after it, is found."""
    path = tmp_path / "sparse"
    with open(path, "wb") as handle:
        handle.truncate(64 << 20)
        handle.seek(40 << 20)
        handle.write(b"\0nsswitch.conf\0 in the middle")
        handle.seek((64 << 20) - 20)
        handle.write(b"GLIBC_TUNABLES")
    if os.stat(path).st_blocks * 512 >= 8 << 20:
        pytest.skip("this filesystem stores no holes (tmp_path is not sparse)")
    with Image(str(path)) as image:
        assert image.contains(b"\0nsswitch.conf\0")
        assert image.contains(b"GLIBC_TUNABLES\0")
        assert image.contains(b"\0\0\0GLIBC")  # starts in the zeros before the data run
        assert not image.contains(b"FATAL: kernel too old")


def test_search_pieces_cover_the_data_exactly() -> None:
    rng = random.Random(3)
    for _ in range(300):
        extents = tuple(sorted((s, s + rng.randrange(1, 50)) for s in rng.sample(range(0, 2000, 50), 5)))
        ranges = [(a, a + rng.randrange(0, 400)) for a in (rng.randrange(-50, 2100) for _ in range(3))]
        pieces = search.search_pieces(extents, ranges)
        covered = sorted((start, end) for start, end, _ in pieces)
        assert all(start < end for start, end in covered)
        assert all(a[1] <= b[0] for a, b in pairwise(covered)), "pieces overlap"
        assert {i for s, e in covered for i in range(s, e)} == {i for s, e in extents for i in range(s, e)}
        backwards = [p for p in pieces if p[2]]
        assert pieces[: len(backwards)] == tuple(backwards), "the ranges searched first come first"
