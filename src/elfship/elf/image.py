"""A bounded, read-only view of one ELF file: every read is checked against the file's size.

Hostile files name offsets and counts; nothing here follows one outside the file, and loops over linked
structures are bounded by what the file could possibly hold.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections.abc import Iterator
from types import TracebackType

from elfship.errors import ElfError

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
        raise ElfError(path, f"not a regular file ({_file_type(st.st_mode)})")
    return fd, st


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


class Image:
    """The bytes of one file plus checked accessors. Use as a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd, st = open_regular_file(path)
        self.size = st.st_size
        self.inode = (st.st_dev, st.st_ino)
        self._mmap: mmap.mmap | None = None
        try:
            if self.size == 0:
                self.data: bytes | mmap.mmap = b""
            elif self.size <= READ_THRESHOLD:
                self.data = os.read(fd, self.size)
                self.size = len(self.data)  # the file may have shrunk under us
            else:
                self._mmap = mmap.mmap(fd, self.size, access=mmap.ACCESS_READ)
                self.data = self._mmap
        except OSError as exc:
            raise ElfError(path, f"cannot read: {exc.strerror}") from None
        finally:
            os.close(fd)

    def __enter__(self) -> Image:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None

    def fail(self, problem: str) -> ElfError:
        return ElfError(self.path, problem)

    def check_range(self, offset: int, length: int, what: str) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.fail(
                f"truncated or corrupt: {what} at offset {offset:#x} runs past the end of the file"
            )

    def unpack(self, fmt: struct.Struct, offset: int, what: str) -> tuple[int, ...]:
        self.check_range(offset, fmt.size, what)
        return fmt.unpack_from(self.data, offset)

    def iter_unpack(
        self, fmt: struct.Struct, offset: int, count: int, what: str
    ) -> Iterator[tuple[int, ...]]:
        self.check_range(offset, fmt.size * count, what)
        return fmt.iter_unpack(self.data[offset : offset + fmt.size * count])

    def slice(self, offset: int, length: int, what: str) -> bytes:
        self.check_range(offset, length, what)
        return bytes(self.data[offset : offset + length])

    def cstring(self, offset: int, end: int, what: str) -> str:
        """A NUL-terminated string starting at offset that must end before `end` (a table's limit)."""
        end = min(end, self.size)
        if offset < 0 or offset >= end:
            raise self.fail(f"corrupt: {what} string offset {offset:#x} is outside its table")
        stop = self.data.find(b"\0", offset, end)
        if stop < 0:
            raise self.fail(f"corrupt: {what} string at {offset:#x} is not terminated")
        return bytes(self.data[offset:stop]).decode("utf-8", "surrogateescape")

    def contains(self, needle: bytes) -> bool:
        return self.data.find(needle) >= 0
