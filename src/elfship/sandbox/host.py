"""The host side of starting a sandbox: what elfship's child does between fork and executing bwrap/unshare.

As root, the child makes a mount namespace of its own (nothing changes on the host), covers /tmp with a small
tmpfs there, shows the root at VIEW inside it (reachable by an unprivileged user, wherever the real root lies),
and then gives up root for good: the sandbox tool runs as HOST_ID. Nothing is created on the host, so even a
SIGKILL of elfship leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from elfship.errors import ElfshipError
from elfship.sandbox import linux
from elfship.sandbox.limits import Limits, drop_to_sandbox_user

VIEW = "/tmp/elfship-root"  # in the child's own mount namespace only
SCRATCH = "/tmp/elfship-scratch"  # the unshare fallback's work space, likewise


def host_preexec(root: Path, as_root: bool, limits: Limits) -> Callable[[], None]:
    parent = os.getpid()

    def guarded() -> None:
        # An exception here would reach the parent as a bare SubprocessError: say what failed on the
        # child's stderr (already the pipe elfship reads) and stop, as the sandbox tools do.
        try:
            setup()
        except OSError as exc:
            os.write(2, f"elfship-sandbox: setup failed: {exc.strerror or exc}\n".encode())
            os._exit(125)

    def setup() -> None:
        if as_root:
            _private_view(root)
            drop_to_sandbox_user()
        # After the uid change, which resets it: if elfship dies (even by SIGKILL), the sandbox dies too.
        linux.die_with_parent(signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)  # elfship died before the line above
        limits.apply()
        linux.no_new_privs()

    return guarded


def _private_view(root: Path) -> None:
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    # Opened in the new namespace (a bind source must be in it), before /tmp is covered (the root may lie below).
    handle = os.open(root, os.O_PATH | os.O_DIRECTORY)
    linux.mount("tmpfs", "/tmp", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=64k,mode=0755")
    for directory in (VIEW, SCRATCH):
        os.mkdir(directory)
        os.chmod(directory, 0o755)
    linux.mount(f"/proc/self/fd/{handle}", VIEW, None, linux.MS_BIND)
    os.close(handle)


def check_enterable(root: Path) -> None:
    """As root, the sandbox runs as an unprivileged uid: it can only enter a root that others may enter."""
    mode = root.stat().st_mode
    if not mode & 0o001:
        raise ElfshipError(
            f"{root} may only be entered by its owner (mode {mode & 0o777:o}); --run starts the program "
            "as an unprivileged user",
            fix=f"chmod o+rx {root}",
        )


@contextmanager
def scratch_dir() -> Iterator[str]:
    """Without root: an empty directory that the unshare fallback mounts its work space on."""
    path = tempfile.mkdtemp(prefix="elfship-sandbox-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        os.rmdir(path)
