"""Searching a file's bytes for a signature (elf/libc.py's static-libc markers, builder/nss.py's NSS one).

A static program without a known libc is searched whole for four strings: 2.5 MB each for valgrind's tools,
12 MB for qemu's. Python's bytes.find reads about 5 GB/s there; glibc's memmem (SIMD) 4 times faster, so a
file without holes is handed to it through ctypes, loaded the first time a static file is searched. A mapped
file is searched in place: copying 2.5 MB out first took twice as long as the four searches.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

MAX_MEMMEM = 32 << 20  # a mapped file up to this size is searched by memmem; larger ones by bytes.find
# Up to this size, memmem over the whole file beats searching the read-only data first (Image.search_first).
MEMMEM_FIRST = 4 << 20
MAX_SEARCH_FIRST = 8  # ranges contains() searches first; a file naming more is searched in file order


def search_pieces(
    extents: tuple[tuple[int, int], ...], ranges: list[tuple[int, int]]
) -> tuple[tuple[int, int, bool], ...]:
    """The file's data extents cut into (start, end, backwards) pieces: the parts inside ranges first (the
    last range first, searched backwards), then every other part in file order. Together they cover exactly
    the extents, so a search of all pieces is a search of all data."""
    if not ranges or len(ranges) > MAX_SEARCH_FIRST:
        return tuple((start, end, False) for start, end in extents)
    first: list[tuple[int, int, bool]] = []
    rest: list[tuple[int, int, bool]] = []
    for start, end in extents:
        position = start
        for low, high in sorted(ranges):
            low, high = max(low, position), min(high, end)
            if low >= high:
                continue
            if position < low:
                rest.append((position, low, False))
            first.append((low, high, True))
            position = high
        if position < end:
            rest.append((position, end, False))
    return (*reversed(first), *rest)


_memmem: Callable[..., Any] | None = None
_loaded = False


def have_memmem() -> bool:
    """Whether libc's memmem can be called (ctypes and a C library with it); looked up once."""
    global _memmem, _loaded
    if not _loaded:
        _loaded = True
        try:
            import ctypes  # here: only a static file's search needs it, never start-up

            function = ctypes.CDLL(None).memmem
            function.restype = ctypes.c_void_p
            function.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t)
            _memmem = function
        except (ImportError, OSError, AttributeError):
            _memmem = None
    return _memmem is not None


def buffer_view(mapping: mmap.mmap, size: int) -> Any:
    """A ctypes array over a writable mapping's memory, which memmem_finds takes as a haystack. The mapping
    cannot be closed while the array lives: drop it first."""
    import ctypes

    return (ctypes.c_char * size).from_buffer(mapping)


def memmem_finds(haystack: bytes | Any, needle: bytes) -> bool:
    """Whether needle occurs in haystack, by libc's memmem (have_memmem() must have said yes). Both are
    bytes objects or a buffer_view, which ctypes passes as pointers to their own memory: nothing is copied."""
    assert _memmem is not None
    return _memmem(haystack, len(haystack), needle, len(needle)) is not None
