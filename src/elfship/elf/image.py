"""A bounded, read-only view of one ELF file: every read is checked against the file's size.

Hostile files name offsets and counts; nothing here follows one outside the file, and loops over linked
structures are bounded by what the file could possibly hold.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
import struct
from collections.abc import Iterable, Iterator
from itertools import accumulate, count
from operator import add
from types import TracebackType

from elfship.elf.budget import MAX_STRING_BYTES, MAX_SYMBOL_NAME_BYTES, STRINGS, SYMBOL_NAMES, Budget
from elfship.elf.search import (
    MAX_MEMMEM,
    MEMMEM_FIRST,
    buffer_view,
    have_memmem,
    memmem_finds,
    search_pieces,
)
from elfship.errors import ElfError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

# Files up to this size are read into memory (cheaper than mmap for the many small ELF files in /usr/bin).
READ_THRESHOLD = 256 * 1024


def open_regular_file(path: str) -> tuple[int, os.stat_result]:
    """Open a path for reading, refusing anything that is not a regular file (FIFOs would block forever)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise ElfError(path, "is a directory, not an ELF file") from None
    except FileNotFoundError:
        raise ElfError(path, "no such file") from None
    except PermissionError:
        raise ElfError(path, "permission denied (run as a user who can read it)") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise ElfError(path, "symlink loop") from None
        raise ElfError(path, f"cannot open: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ElfError(path, f"not a regular file ({file_type(st.st_mode)})")
    return fd, st


def file_type(mode: int) -> str:
    """What a stat mode names, in words for an error message ("a FIFO", "a directory", ...)."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symlink"),
    ):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


class Image:
    """The bytes of one file plus checked accessors. Use as a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd, st = open_regular_file(path)
        self.size = st.st_size
        self.inode = (st.st_dev, st.st_ino)
        self.budget = Budget(path)
        self._mmap: mmap.mmap | None = None
        self._data_runs: tuple[tuple[int, int], ...] | None = ((0, self.size),)  # mapped: found when asked
        self._pieces: tuple[tuple[int, int, bool], ...] | None = None  # contains() order, made when needed
        # What memmem searches in a mapped file: the file's pages through a second, private mapping, made
        # when contains() first wants it (ctypes can point only into a writable buffer; nothing is written).
        self._search_map: mmap.mmap | None = None
        self._search_view: Any = None  # a ctypes array over _search_map, released before it is closed
        self._fd = -1  # kept open while mapped, for that mapping and for SEEK_DATA/SEEK_HOLE
        try:
            if self.size == 0:
                self.data: bytes | mmap.mmap = b""
            elif self.size <= READ_THRESHOLD:
                self.data = os.read(fd, self.size)
                self.size = len(self.data)  # the file may have shrunk under us
            else:
                self._mmap = mmap.mmap(fd, self.size, access=mmap.ACCESS_READ)
                self.data = self._mmap
                self._data_runs = None  # SEEK_DATA/SEEK_HOLE only when a search asks: most files never do
                self._fd, fd = fd, -1
        except OSError as exc:
            raise ElfError(path, f"cannot read: {exc.strerror}") from None
        finally:
            if fd >= 0:
                os.close(fd)

    def __enter__(self) -> Image:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._search_view = None  # the export first: a mapping with one cannot be closed
        if self._search_map is not None:
            self._search_map.close()
            self._search_map = None
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def copy_out(self, offset: int, length: int) -> bytes:
        """A copy of a range, whose mapped pages are then given back: a scan of a large file (sparse or not)
        keeps only the copies it asked for resident, not every page it passed through."""
        piece = bytes(self.data[offset : offset + length])
        if self._mmap is not None and piece:
            start = offset - offset % mmap.PAGESIZE
            self._mmap.madvise(mmap.MADV_DONTNEED, start, offset + len(piece) - start)
        return piece

    def fail(self, problem: str) -> ElfError:
        return ElfError(self.path, problem)

    def check_range(self, offset: int, length: int, what: str) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.out_of_range(offset, what)

    def out_of_range(self, offset: int, what: str) -> ElfError:
        return self.fail(f"truncated or corrupt: {what} at offset {offset:#x} runs past the end of the file")

    # unpack and slice check the range themselves (check_range's test, written out): the reader calls them
    # a dozen times a file.
    def unpack(self, fmt: struct.Struct, offset: int, what: str) -> tuple[int, ...]:
        if offset < 0 or offset + fmt.size > self.size:
            raise self.out_of_range(offset, what)
        return fmt.unpack_from(self.data, offset)

    def iter_unpack(
        self, fmt: struct.Struct, offset: int, count: int, what: str
    ) -> Iterator[tuple[int, ...]]:
        self.check_range(offset, fmt.size * count, what)
        return fmt.iter_unpack(self.data[offset : offset + fmt.size * count])

    def slice(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.out_of_range(offset, what)
        return bytes(self.data[offset : offset + length])

    def search_first(self, ranges: list[tuple[int, int]]) -> None:
        """Make contains() search these (start, end) ranges first, last one first and backwards.

        The answer is the same (every data byte is still searched when the needle is absent); only the time
        to find a present needle changes. The static-libc signatures sit in read-only data, near its end
        (libc is linked last): searched from there, a 12 MB static program is answered after 1 MB, not 10."""
        self._pieces = search_pieces(self._extents(), ranges)

    def contains(self, needle: bytes) -> bool:
        """Whether needle occurs in the file. Holes of a sparse file are skipped: they hold only zeros."""
        pad = len(needle)  # a needle may start or end with NULs that lie in a hole next to the data
        find, rfind = self.data.find, self.data.rfind
        if self.size <= MEMMEM_FIRST and (whole := self._whole()) is not None:
            return memmem_finds(whole, needle)  # faster than the read-only data first, backwards, in Python
        if self._pieces is None:
            self._pieces = search_pieces(self._extents(), [])
        for start, end, backwards in self._pieces:
            if not backwards and (whole := self._whole()) is not None:  # the rest, in a file without holes
                return memmem_finds(whole, needle)
            if (rfind if backwards else find)(needle, max(start - pad, 0), end + pad) >= 0:
                return True
        return False

    def _extents(self) -> tuple[tuple[int, int], ...]:
        """The (start, end) runs of the file that hold data; a file read into memory is one run."""
        if self._data_runs is None:
            self._data_runs = _data_extents(self._fd, self.size) if self._fd >= 0 else ((0, self.size),)
        return self._data_runs

    def _whole(self) -> bytes | Any | None:
        """The file's bytes for memmem: a file without holes, at most MAX_MEMMEM when mapped (searched in
        place through a private mapping, never copied). None when memmem is not to be had: the search stays
        Python's."""
        if self._extents() != ((0, self.size),) or not have_memmem():
            return None
        if isinstance(self.data, bytes):
            return self.data
        if self._search_view is None and self.size <= MAX_MEMMEM and self._fd >= 0:
            try:
                self._search_map = mmap.mmap(self._fd, self.size, access=mmap.ACCESS_COPY)
            except (OSError, ValueError):
                return None
            self._search_view = buffer_view(self._search_map, self.size)
        return self._search_view

    def strings(self, offset: int, size: int) -> StringTable:
        """The string table at [offset, offset + size), cut to the file; nothing is copied."""
        offset = min(max(offset, 0), self.size)
        return StringTable(self, offset, max(min(size, self.size - offset), 0))


MAX_EXTENTS = 64  # past this many data runs, the rest of the file is searched as one


def _data_extents(fd: int, size: int) -> tuple[tuple[int, int], ...]:
    """The (start, end) runs of a file that hold data, by SEEK_DATA/SEEK_HOLE: a 2 GB sparse file with
    4 KiB of data is searched in microseconds. A file without holes is one run (two lseek calls)."""
    extents: list[tuple[int, int]] = []
    position = 0
    try:
        while position < size and len(extents) < MAX_EXTENTS:
            start = os.lseek(fd, position, os.SEEK_DATA)
            position = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, position))
    except OSError as exc:  # ENXIO: no data past position; other errors: no hole support, search it all
        if exc.errno != errno.ENXIO:
            return ((0, size),)
    if position < size and len(extents) >= MAX_EXTENTS:
        extents.append((position, size))
    return tuple(extents)


# symbol_names() decodes a string table whole unless it is this many times larger than the names asked for,
# and splits it whole when it is at most SPLIT_RATIO times larger (about two strings per name).
FEW_NAMES_RATIO = 512
SPLIT_RATIO = 24


class StringTable:
    """A NUL-terminated string table inside an Image. Each offset is decoded once (hostile files point
    thousands of entries at one long string) and every string handed out is charged to the file's budget,
    so no file can make elfship hold more than budget.STRING_CAPS of its strings."""

    __slots__ = ("_budget", "_cache", "_data", "_find", "_image", "end", "size", "start")

    def __init__(self, image: Image, start: int, size: int) -> None:
        self._image = image
        self._budget = image.budget
        self._data = image.data
        self._find = image.data.find
        self.start = start
        self.size = size
        self.end = start + size
        self._cache: dict[int, str] = {}

    def get(self, offset: int, what: str) -> str:
        """The string at offset (names, paths, versions), charged to the file's string budget."""
        return self.get_all((offset,), what)[0]

    def get_all(self, offsets: Iterable[int], what: str) -> list[str]:
        """get() of each offset, in order: one call for all the strings of a table (DT_NEEDED, version
        needs), as this is the hot path of the reader (every name of every file), written out in full."""
        budget, cache, find, data, base, end = (
            self._budget,
            self._cache,
            self._find,
            self._data,
            self.start,
            self.end,
        )
        texts = []
        for offset in offsets:
            text = cache.get(offset)
            if text is None:
                start = base + offset
                left = MAX_STRING_BYTES - budget.strings  # never scan further than could be paid for
                limit = end if end - start <= left else start + left + 1
                stop = find(b"\0", start, limit)
                if stop < 0 or offset < 0 or start >= end:
                    raise self._failure(offset, what, STRINGS, limit < end)
                text = cache[offset] = data[start:stop].decode("utf-8", "surrogateescape")
            budget.strings += len(text)
            if budget.strings > MAX_STRING_BYTES:
                raise budget.out_of_strings(STRINGS)
            texts.append(text)
        return texts

    def _failure(self, offset: int, what: str, kind: str, budget_reached: bool) -> ElfError:
        """Why no string could be read at offset: outside the table, unterminated, or over the budget."""
        if budget_reached and 0 <= offset < self.size:
            return self._budget.out_of_strings(kind)
        return self._image.fail(f"corrupt: {what} string offset {offset:#x} is outside the string table")

    def symbol_names(self, offsets: set[int], what: str) -> dict[int, str]:
        """Symbol names by offset (the hot path of with_symbols), charged to the file's budget.

        How depends on how much of the table is asked for. A program asks for nearly every string: its ASCII
        table is decoded and split once, one C call making every string, where cutting each name out on its
        own costs twice as much. A library asks for a few: they are cut out of the decoded table, or out of
        the bytes when the table is far larger than the names (a C++ library's 4 MB, for a few hundred
        imports). A name the fast paths cannot give (over its share of the budget, outside the table) takes
        the exact path, which says why."""
        budget = self._budget
        left = MAX_SYMBOL_NAME_BYTES - budget.symbol_names
        share = left // max(len(offsets), 1)
        names: dict[int, str] | None = None
        if self.size > FEW_NAMES_RATIO * len(offsets):
            names = self._cut(offsets, share)
        elif self.size <= left and (text := self._ascii_text()) is not None:
            names = (
                _split(text) if self.size <= SPLIT_RATIO * len(offsets) else _cut_text(text, offsets, share)
            )
        if names is None:
            names = {}
        for offset in offsets.difference(names):  # a shared tail ("bar" in "foobar"), or a bad offset
            names[offset] = self._decode(offset, what, SYMBOL_NAMES, left)
        budget.symbol_names += sum(map(len, map(names.__getitem__, offsets)))
        if budget.symbol_names > MAX_SYMBOL_NAME_BYTES:
            raise budget.out_of_strings(SYMBOL_NAMES)
        return names

    def _ascii_text(self) -> str | None:
        raw = self._data[self.start : self.end]
        return raw.decode("ascii") if raw.isascii() else None

    def _cut(self, offsets: set[int], share: int) -> dict[int, str]:
        """The names at offsets, each cut out of the bytes, searched no further than share; a name not
        found so (longer than share, or outside the table) is left out for the exact path."""
        data, find, start, end = self._data, self._find, self.start, self.end
        return {
            offset: data[start + offset : stop].decode("utf-8", "surrogateescape")
            for offset in offsets
            if (stop := find(b"\0", start + offset, min(start + offset + share + 1, end))) >= 0
        }

    def _decode(self, offset: int, what: str, kind: str, left: int) -> str:
        """The string at offset, searched for no further than left characters (what the budget can pay)."""
        start, end = self.start + offset, self.end
        limit = end if end - start <= left else start + left + 1
        stop = self._find(b"\0", start, limit)
        if stop < 0 or offset < 0 or start >= end:
            raise self._failure(offset, what, kind, limit < end)
        return self._data[start:stop].decode("utf-8", "surrogateescape")  # bytes, from bytes or mmap


def _split(text: str) -> dict[int, str]:
    """Every NUL-terminated string of a table by its offset."""
    parts = text.split("\0")
    parts.pop()  # what follows the last NUL is no terminated string
    # Offsets in C: each string starts where the lengths before it, plus one NUL each, end. (One offset more
    # than strings: the end of the last one, which zip leaves out.)
    starts = map(add, accumulate(map(len, parts), initial=0), count())
    return dict(zip(starts, parts, strict=False))


def _cut_text(text: str, offsets: set[int], share: int) -> dict[int, str]:
    """The names at offsets cut out of the decoded table, searched no further than share; a name not found
    so (longer than share, or outside the table) is left out for the exact path."""
    find = text.find
    return {
        offset: text[offset:stop]
        for offset in offsets
        if (stop := find("\0", offset, offset + share + 1)) >= 0
    }
