"""--unsafe-chroot: the old way, kept for machines with neither bwrap nor user namespaces.

The program runs as root in a plain chroot: it can leave the chroot, write anywhere, use the network and
outlive elfship. Only the resource limits, the bounded output and the kill at the timeout remain.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from elfship.errors import ElfshipError
from elfship.sandbox import linux
from elfship.sandbox.limits import Limits
from elfship.sandbox.supervise import Finished, supervise

if TYPE_CHECKING:
    from elfship.sandbox import SandboxRun


def run_chrooted(
    root: Path, argv: list[str], files: Sequence[tuple[int, str]], timeout: float, limits: Limits
) -> SandboxRun:
    """files: (open fd, in-root path) of each file to place, the program first."""
    from elfship.sandbox import SandboxRun

    if os.geteuid() != 0:
        raise ElfshipError(
            "--unsafe-chroot needs root", fix="drop --unsafe-chroot (bwrap or unshare is used)"
        )
    stage = _stage(root) if files else None
    try:
        if stage is not None:
            inside = files[0][1]
            copy = _copy_into(stage, files)
            argv = [f"/{copy.relative_to(root)}" if arg == inside else arg for arg in argv]
        done = _supervised(root, argv, timeout, limits)
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
    return SandboxRun(
        done.exit_code, done.timed_out, done.exec_seen, done.stdout, done.stderr, done.stdout_bytes, "chroot"
    )


def _copy_into(stage: Path, files: Sequence[tuple[int, str]]) -> Path:
    """Nothing may be mounted here: the copies go to ROOT/tmp/elfship-run-*, laid out as at their in-root
    paths below the deepest directory they share (bin/app and lib/libdep.so.1 for /usr/local/...), so that
    $ORIGIN-relative paths between them hold. Returns the program's copy."""
    base = posixpath.commonpath([posixpath.dirname(posixpath.normpath(dest)) for _, dest in files])
    copies = []
    for fd, dest in files:
        copy = stage / posixpath.relpath(posixpath.normpath(dest), base)
        copy.parent.mkdir(parents=True, exist_ok=True)  # below a fresh mkdtemp of ours: no link to follow
        with open(copy, "xb") as out, os.fdopen(os.dup(fd), "rb") as source:
            shutil.copyfileobj(source, out)
        copy.chmod(0o755)
        copies.append(copy)
    return copies[0]


def _stage(root: Path) -> Path:
    tmp = root / "tmp"
    if not stat.S_ISDIR(os.lstat(tmp).st_mode) if os.path.lexists(tmp) else True:
        raise ElfshipError(
            f"{tmp} is not a directory (a symlink is not followed)", fix="drop --unsafe-chroot"
        )
    return Path(tempfile.mkdtemp(prefix="elfship-run-", dir=tmp))


def _supervised(root: Path, argv: list[str], timeout: float, limits: Limits) -> Finished:
    def enter() -> None:
        _private_proc(root)
        os.chroot(root)
        os.chdir("/")
        limits.apply()

    try:
        return supervise(argv, timeout=timeout, preexec=enter, launchers=frozenset())
    except OSError as exc:  # the exec itself failed: no interpreter in the root, or not for this machine
        message = f"exec {argv[0]}: {exc.strerror}"
        return Finished(127 if exc.errno == 2 else 126, False, False, "", message, 0)


def _private_proc(root: Path) -> None:
    """A /proc in the chroot, as on any server: glibc finds the program's $ORIGIN through /proc/self/exe, and
    without it skips every $ORIGIN entry (a program whose lib/ travels with it would not find it). Mounted
    in the child's own mount namespace, on the root's own /proc directory (a symlink is not followed): the
    host and the root's files see nothing. Best effort: without it the run goes on as before."""
    try:
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        # Opened in the new namespace: a mount target must belong to it.
        handle = os.open(root / "proc", os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        flags = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
        linux.mount("proc", f"/proc/self/fd/{handle}", "proc", flags)
    except OSError:
        pass
    finally:
        os.close(handle)
