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
    r"|failed to run command|failed to execute"  # chroot(1) / unshare(1): no interpreter, or no file
    r"|cannot execute binary file|Exec format error"
    r"|FATAL: kernel too old"
    r"|CPU ISA level is lower than required"
    r"|Syntax error: .* unexpected"  # execvp's /bin/sh fallback for an ELF the kernel refused (unshare)
)
STDERR_LINES = 6


def run_in_root(path: str, root: Path, *, args: tuple[str, ...] = (), timeout: float = 10.0) -> RunOutcome:
    stage = Path(tempfile.mkdtemp(prefix="elfship-run-", dir=_staging_dir(root)))
    try:
        name = Path(path).name
        inside = f"/{stage.relative_to(root)}/{name}"
        shutil.copy2(path, stage / name)
        os.chmod(stage / name, 0o755)
        if os.geteuid() == 0:
            return _start_chrooted(root, [inside, *args], timeout)
        return _start_unshared(root, [inside, *args], timeout)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _staging_dir(root: Path) -> Path:
    tmp = root / "tmp"
    if not tmp.is_dir():
        raise ElfshipError(f"{root} has no /tmp to copy the program into", fix="create ROOT/tmp (mode 1777)")
    return tmp


def _start_chrooted(root: Path, argv: list[str], timeout: float) -> RunOutcome:
    """chroot in the child, then execve: unlike chroot(1), whose execvp hands an ELF the kernel refused
    (ENOEXEC: wrong architecture) to /bin/sh as if it were a script, the refusal reaches us as it is."""

    def enter_root() -> None:
        os.chroot(root)
        os.chdir("/")

    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            preexec_fn=enter_root,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C"},
        )
    except subprocess.TimeoutExpired as exc:
        return _timed_out(exc, "chroot")
    except OSError as exc:  # ENOENT: no interpreter in the root; ENOEXEC: not for this machine
        return RunOutcome(False, None, False, f"exec failed: {exc.strerror}", "chroot")
    return _outcome(proc, "chroot")


def _start_unshared(root: Path, argv: list[str], timeout: float) -> RunOutcome:
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ToolMissingError(
            "check --run needs root (chroot) or unshare", fix="install util-linux, or run as root"
        )
    command = [unshare, "--user", "--map-root-user", "--mount", f"--root={root}", *argv]
    try:
        proc = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return _timed_out(exc, "unshare")
    stderr = proc.stderr.decode("utf-8", "replace")
    if "unshare failed" in stderr:
        raise ElfshipError(
            "this kernel does not allow unprivileged user namespaces",
            fix="run check --run as root (it then uses chroot)",
        )
    return _outcome(proc, "unshare")


def _timed_out(exc: subprocess.TimeoutExpired, method: str) -> RunOutcome:
    stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
    # Still running after the timeout: the loader handed over, the program is doing its work.
    return RunOutcome(True, None, True, _head(stderr), method)


def _outcome(proc: subprocess.CompletedProcess[bytes], method: str) -> RunOutcome:
    stderr = proc.stderr.decode("utf-8", "replace")
    # 126: the kernel refused the file itself; otherwise a loader's complaint and a failing exit status.
    refused = proc.returncode == 126 or (proc.returncode != 0 and LOADER_FAILURES.search(stderr) is not None)
    return RunOutcome(not refused, proc.returncode, False, _head(stderr), method)


def _head(text: str) -> str:
    return "\n".join(text.strip().splitlines()[:STDERR_LINES])
