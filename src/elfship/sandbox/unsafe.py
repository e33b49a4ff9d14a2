"""--unsafe-chroot: the old way, kept for machines with neither bwrap nor user namespaces.

The program runs as root in a plain chroot: it can leave the chroot, write anywhere, use the network and
outlive elfship. Only the resource limits, the bounded output and the kill at the timeout remain.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from elfship.errors import ElfshipError
from elfship.sandbox.limits import Limits
from elfship.sandbox.supervise import Finished, supervise

if TYPE_CHECKING:
    from elfship.sandbox import SandboxRun


def run_chrooted(
    root: Path, argv: list[str], inside: str, program_fd: int, timeout: float, limits: Limits
) -> SandboxRun:
    from elfship.sandbox import SandboxRun

    if os.geteuid() != 0:
        raise ElfshipError(
            "--unsafe-chroot needs root", fix="drop --unsafe-chroot (bwrap or unshare is used)"
        )
    stage = _stage(root) if program_fd >= 0 else None
    try:
        if stage is not None:
            # Nothing may be mounted here: the copy goes to ROOT/tmp, not to `inside`.
            copy = stage / Path(inside).name
            with open(copy, "xb") as out, os.fdopen(os.dup(program_fd), "rb") as source:
                shutil.copyfileobj(source, out)
            copy.chmod(0o755)
            argv = [f"/{copy.relative_to(root)}" if arg == inside else arg for arg in argv]
        done = _supervised(root, argv, timeout, limits)
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
    return SandboxRun(
        done.exit_code, done.timed_out, done.exec_seen, done.stdout, done.stderr, done.stdout_bytes, "chroot"
    )


def _stage(root: Path) -> Path:
    tmp = root / "tmp"
    if not stat.S_ISDIR(os.lstat(tmp).st_mode) if os.path.lexists(tmp) else True:
        raise ElfshipError(
            f"{tmp} is not a directory (a symlink is not followed)", fix="drop --unsafe-chroot"
        )
    return Path(tempfile.mkdtemp(prefix="elfship-run-", dir=tmp))


def _supervised(root: Path, argv: list[str], timeout: float, limits: Limits) -> Finished:
    def enter() -> None:
        os.chroot(root)
        os.chdir("/")
        limits.apply()

    try:
        return supervise(argv, timeout=timeout, preexec=enter, launchers=frozenset())
    except OSError as exc:  # the exec itself failed: no interpreter in the root, or not for this machine
        message = f"exec {argv[0]}: {exc.strerror}"
        return Finished(127 if exc.errno == 2 else 126, False, False, "", message, 0)
