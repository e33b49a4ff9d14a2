"""check --run: start the program inside the root for real, and tell whether the loader let it start.

This is the one place elfship executes a file it analyses, on the user's explicit request. The program is
copied into the root (never run from the host's filesystem) and started with chroot when we are root, or in a
new user and mount namespace (unshare) otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from elfship.check.model import RunOutcome
from elfship.errors import ElfshipError, ToolMissingError

# What a loader (glibc's or musl's) or the exec itself prints when the program never got to run.
LOADER_FAILURES = re.compile(
    r"error while loading shared libraries"
    r"|version `[^']+' not found"
    r"|Error loading shared library"
    r"|Error relocating"
    r"|failed to run command"  # chroot: the interpreter (or the file) does not exist
    r"|cannot execute binary file|Exec format error"
    r"|FATAL: kernel too old"
    r"|CPU ISA level is lower than required"
)
STDERR_LINES = 6


def run_in_root(path: str, root: Path, *, args: tuple[str, ...] = (), timeout: float = 10.0) -> RunOutcome:
    launcher, method = _launcher()
    stage = Path(tempfile.mkdtemp(prefix="elfship-run-", dir=_staging_dir(root)))
    try:
        inside_name = f"/{stage.relative_to(root)}/{Path(path).name}"
        shutil.copy2(path, stage / Path(path).name)
        os.chmod(stage / Path(path).name, 0o755)
        argv = [*launcher, str(root), inside_name, *args]
        return _start(argv, method, timeout)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _staging_dir(root: Path) -> Path:
    tmp = root / "tmp"
    if not tmp.is_dir():
        raise ElfshipError(f"{root} has no /tmp to copy the program into", fix="create ROOT/tmp (mode 1777)")
    return tmp


def _launcher() -> tuple[list[str], str]:
    if os.geteuid() == 0:
        chroot = shutil.which("chroot")
        if chroot is None:
            raise ToolMissingError("chroot not found", fix="install coreutils")
        return [chroot], "chroot"
    unshare = shutil.which("unshare")
    chroot = shutil.which("chroot")
    if unshare is None or chroot is None:
        raise ToolMissingError(
            "check --run needs root (chroot) or unshare with user namespaces",
            fix="install util-linux, or run as root",
        )
    return [unshare, "--user", "--map-root-user", "--mount", chroot], "unshare"


def _start(argv: list[str], method: str, timeout: float) -> RunOutcome:
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode("utf-8", "replace")
        # Still running after the timeout: the loader handed over, the program is doing its work.
        return RunOutcome(True, None, True, _head(stderr), method)
    stderr = proc.stderr.decode("utf-8", "replace")
    if method == "unshare" and "unshare failed" in stderr:
        raise ElfshipError(
            "this kernel does not allow unprivileged user namespaces",
            fix="run check --run as root (it then uses chroot)",
        )
    # 126: the kernel refused the file itself (wrong architecture, not executable).
    refused = proc.returncode == 126 or (proc.returncode != 0 and LOADER_FAILURES.search(stderr) is not None)
    started = not refused
    return RunOutcome(started, proc.returncode, False, _head(stderr), method)


def _head(text: str) -> str:
    return "\n".join(text.strip().splitlines()[:STDERR_LINES])
