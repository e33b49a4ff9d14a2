"""Open files inside a root so that nothing in the root can send the open outside it.

The kernel does it where it can: openat2(2) with RESOLVE_IN_ROOT resolves every symlink and ".." as if the
root were "/" (Linux 5.6). Where openat2 is missing (ENOSYS) or filtered (EPERM under some seccomp
profiles), the path, already resolved inside the root by FileView's walk so that it has no symlink left, is
opened one component at a time with O_NOFOLLOW from a descriptor of the root: a component swapped for a
symlink meanwhile makes the open fail instead of leaving the root.

Only regular files are read, opened with O_NONBLOCK (a FIFO would block forever otherwise) and checked with
fstat after the open; a device such as the root's /dev/zero is refused before it is opened.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from elfship.elf.image import file_type

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
SYS_OPENAT2 = 437  # the same number in the x86_64 table and the generic one (aarch64, riscv64, ...)
ARCHES_WITH_OPENAT2 = frozenset({"x86_64", "aarch64", "riscv64", "loongarch64"})
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_PATH = getattr(os, "O_PATH", 0)
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | O_CLOEXEC
EAGAIN_RETRIES = 8  # RESOLVE_IN_ROOT says EAGAIN when a rename raced a ".."; try again a few times


OPEN_HOW = struct.Struct("=QQQ")  # struct open_how: flags, mode, resolve (u64 each)


class _Kernel:
    """Whether openat2 works here: decided by the first call, then remembered."""

    usable: bool | None = None if os.uname().machine in ARCHES_WITH_OPENAT2 else False
    libc: Any = None  # ctypes.CDLL, loaded by the first call: only reads inside a root pay for ctypes


def _openat2(dir_fd: int, path: str, flags: int) -> int:
    import ctypes

    if _Kernel.libc is None:
        _Kernel.libc = ctypes.CDLL(None, use_errno=True)
    how = ctypes.create_string_buffer(OPEN_HOW.pack(flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS))
    err = errno.EINVAL
    for _ in range(EAGAIN_RETRIES):
        fd = _Kernel.libc.syscall(
            ctypes.c_long(SYS_OPENAT2),
            ctypes.c_int(dir_fd),
            ctypes.c_char_p(os.fsencode(path)),
            how,
            ctypes.c_size_t(OPEN_HOW.size),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err != errno.EAGAIN:
            break
    raise OSError(err, os.strerror(err), path)


def _open_nofollow(dir_fd: int, real: str, flags: int) -> int:
    """Open a symlink-free inside path from the root's descriptor, refusing any symlink met on the way."""
    parts = [part for part in real.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise OSError(errno.EINVAL, "not a resolved path", real)
    if not parts:
        return os.open(".", flags | os.O_DIRECTORY, dir_fd=dir_fd)
    current = dir_fd
    try:
        for part in parts[:-1]:
            step = os.open(part, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | O_CLOEXEC, dir_fd=current)
            if current != dir_fd:
                os.close(current)
            current = step
        return os.open(parts[-1], flags | os.O_NOFOLLOW, dir_fd=current)
    finally:
        if current != dir_fd:
            os.close(current)


class RootDir:
    """A descriptor of a root's top directory, the anchor of every open inside it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, O_PATH | os.O_DIRECTORY | O_CLOEXEC)

    def __del__(self) -> None:
        fd = getattr(self, "fd", -1)
        if fd >= 0:
            os.close(fd)
            self.fd = -1

    def open(self, real: str, flags: int) -> int:
        """Open REAL (an inside path) with FLAGS, confined to the root. Raises OSError."""
        if _Kernel.usable is not False:
            try:
                fd = _openat2(self.fd, real, flags)
            except OSError as exc:
                if exc.errno not in (errno.ENOSYS, errno.EPERM):
                    _Kernel.usable = True
                    raise
                _Kernel.usable = False  # no openat2 here: the O_NOFOLLOW walk from now on
            else:
                _Kernel.usable = True
                return fd
        return _open_nofollow(self.fd, real, flags)


def open_regular(root: RootDir | None, real: str) -> tuple[int, os.stat_result]:
    """A read-only descriptor of the regular file REAL (inside ROOT, or on this machine when None).

    Raises NotRegularError for a FIFO, a device or a directory, OSError when it cannot be opened.
    """
    fd = root.open(real, READ_FLAGS) if root is not None else os.open(real, READ_FLAGS)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularError(file_type(st.st_mode))
    return fd, st


def open_directory(root: RootDir | None, real: str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | O_CLOEXEC
    return root.open(real, flags) if root is not None else os.open(real, flags)


class NotRegularError(OSError):
    """The path names something other than a regular file; str() says what ("a FIFO")."""

    def __init__(self, what: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({what})")
        self.what = what


def read_bounded(fd: int, size: int, limit: int) -> bytes:
    """Up to LIMIT bytes of an open file whose fstat size is SIZE (the file may change while we read)."""
    chunks: list[bytes] = []
    wanted = min(size, limit)
    total = 0
    while total < wanted:
        chunk = os.read(fd, min(wanted - total, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


@contextmanager
def fd_path(fd: int, fallback: str) -> Iterator[str]:
    """A path naming exactly the open file FD, for readers that take a path (the ELF reader).

    /proc/self/fd/N reopens the very file already opened inside the root, whatever happens to the names
    meanwhile. Without /proc the checked host path is the best there is (its components had no symlink).
    """
    proc = f"/proc/self/fd/{fd}"
    yield proc if os.path.exists(proc) else fallback
