"""The few Linux system calls the sandbox needs that Python's os module lacks (3.10): unshare, mount, prctl."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result: int, what: str, path: str | None = None) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}", path)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def b(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    result = _libc.mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data))
    _check(result, f"mount {target}", target)


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), "prctl")


def no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def die_with_parent(signal: int) -> None:
    prctl(PR_SET_PDEATHSIG, signal)
