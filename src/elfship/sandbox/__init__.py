"""The one place elfship executes anything it did not write: `check --run` starts the user's program (and
the root's own loader) here, and nowhere else.

    from elfship.sandbox import run_sandboxed
    done = run_sandboxed(root, ["/usr/local/bin/app"], program=Path("app"), timeout=10)
    done.exit_code, done.timed_out, done.stderr, done.method

Methods, strongest first: "bwrap" (bubblewrap), "unshare" (util-linux, with a small helper that builds the
same file system), and "chroot" (only when asked for with unsafe=True: the program runs as root and can
escape). See SECURITY.md for what each promises.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from elfship.errors import ElfshipError, ToolMissingError
from elfship.record import record
from elfship.sandbox.bwrap import ENVIRONMENT, bwrap_argv
from elfship.sandbox.emulator import Emulator, find_emulator, runs_natively
from elfship.sandbox.host import SCRATCH, VIEW, check_enterable, host_preexec, scratch_dir
from elfship.sandbox.limits import Limits
from elfship.sandbox.plan import MountPlan, make_plan
from elfship.sandbox.supervise import Finished, supervise

METHODS = ("bwrap", "unshare", "chroot")
LAUNCHERS = frozenset({"bwrap", "unshare"})
INNER_SOURCE = Path(__file__).with_name("inner.py")


@record
class SandboxRun:
    exit_code: int | None  # None: still running at the timeout (then killed)
    timed_out: bool
    exec_seen: bool  # at the timeout, the program had been exec'd (the sandbox was set up)
    stdout: str  # head and tail only
    stderr: str  # head and tail only
    stdout_bytes: int
    method: str


def choose_method(*, unsafe_chroot: bool = False) -> str:
    if unsafe_chroot:
        return "chroot"
    if shutil.which("bwrap"):
        return "bwrap"
    if shutil.which("unshare"):
        return "unshare"
    raise ToolMissingError(
        "check --run needs bubblewrap (bwrap) or unshare to start the program in a sandbox",
        fix="apt-get install bubblewrap",
    )


def run_sandboxed(
    root: Path,
    argv: list[str],
    *,
    program: Path | None = None,
    inside: str | None = None,
    along: Sequence[tuple[Path, str]] = (),
    timeout: float = 10.0,
    method: str | None = None,
    emulator: Emulator | None = None,
) -> SandboxRun:
    """Run argv inside `root`; `program` (a host file) is first placed at `inside` (default argv[0]), and
    each (host file, in-root path) of `along` (the libraries that travel with it) at its path, read-only.
    With an emulator (not for chroot), it is placed in the sandbox too and argv is started through it."""
    method = method or choose_method()
    inside = inside or argv[0]
    files = [(program, inside), *along] if program is not None else []
    size = sum(host.stat().st_size for host, _ in files)
    if emulator is not None:
        size += emulator.host_path.stat().st_size
    limits = Limits.for_run(timeout, size)
    with ExitStack() as stack:
        # Opened once, here: what the sandbox copies is what was checked, whatever happens to the paths.
        file_fds = tuple(_open(host, stack) for host, _ in files)
        emulator_fd = _open(emulator.host_path if emulator else None, stack)
        if method == "chroot":
            from elfship.sandbox.unsafe import run_chrooted

            placed = tuple(zip(file_fds, (dest for _, dest in files), strict=True))
            return run_chrooted(root, argv, placed, timeout, limits)
        as_root = os.geteuid() == 0
        if as_root:
            check_enterable(root)
        view = VIEW if as_root else str(root)
        plan = make_plan(
            root,
            view,
            inside,
            place_program=program is not None,
            tmp_size=limits.tmp_size,
            emulator=emulator.inside if emulator else None,
            along=[dest for _, dest in along],
        )
        preexec = host_preexec(root, as_root, limits)
        if emulator is not None:
            argv = [emulator.inside, *argv]
        if method == "bwrap":
            command = bwrap_argv(_which("bwrap"), plan, argv, file_fds, _fd_or_none(emulator_fd))
            done = supervise(
                command,
                timeout=timeout,
                preexec=preexec,
                pass_fds=_fds(*file_fds, emulator_fd),
                launchers=LAUNCHERS,
            )
        else:
            scratch = SCRATCH if as_root else stack.enter_context(scratch_dir())
            done = _run_unshared(plan, argv, (emulator_fd, *file_fds), scratch, limits, timeout, preexec)
    _raise_setup_failure(method, done)
    return SandboxRun(
        done.exit_code, done.timed_out, done.exec_seen, done.stdout, done.stderr, done.stdout_bytes, method
    )


def _open(path: Path | None, stack: ExitStack) -> int:
    if path is None:
        return -1
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    stack.callback(os.close, fd)
    return fd


def _fd_or_none(fd: int) -> int | None:
    return fd if fd >= 0 else None


def _run_unshared(
    plan: MountPlan,
    argv: list[str],
    data_fds: tuple[int, ...],  # the emulator's (-1 for none), then one per placed file, the program first
    scratch: str,
    limits: Limits,
    timeout: float,
    preexec: Callable[[], None],
) -> Finished:
    document = {
        "ops": [{"kind": op.kind, "dest": op.dest, "source": op.source} for op in plan.ops],
        "argv": argv,
        "env": list(ENVIRONMENT),
        "scratch": scratch,
        "tmp_size": plan.tmp_size,
        "file_size": limits.file_size,
    }
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, json.dumps(document).encode())  # small: well under a pipe's 64 KiB buffer
    finally:
        os.close(write_end)
    command = [
        _which("unshare"),
        "--user",
        "--map-root-user",  # capabilities for the mount set-up only; the program runs as 65534 (inner.py)
        "--mount",
        "--pid",
        "--net",
        "--ipc",
        "--uts",
        "--cgroup",
        "--fork",
        "--kill-child",
        "--propagation=private",
        "--",
        _python_anyone_can_run(),
        "-I",
        "-S",
        "-c",
        INNER_SOURCE.read_text(encoding="utf-8"),
        str(read_end),
        *(str(fd) for fd in data_fds),
    ]
    try:
        return supervise(
            command,
            timeout=timeout,
            preexec=preexec,
            pass_fds=_fds(read_end, *data_fds),
            launchers=LAUNCHERS,
        )
    finally:
        os.close(read_end)


def _python_anyone_can_run() -> str:
    """inner.py runs as an unprivileged uid: a Python under root's home (pyenv, a venv) is out of its reach."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        real = Path(os.path.realpath(candidate))
        if real.is_file() and all(p.stat().st_mode & 0o001 for p in (real, *real.parents)):
            return str(real)
    raise ToolMissingError("no Python that an unprivileged user may run", fix="apt-get install bubblewrap")


def _fds(*fds: int) -> tuple[int, ...]:
    return tuple(fd for fd in fds if fd >= 0)


def _which(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise ToolMissingError(f"{tool} not found", fix="apt-get install bubblewrap")
    return found


def _raise_setup_failure(method: str, done: Finished) -> None:
    """The sandbox tool could not build the sandbox: an error about this machine, not about the program."""
    first = done.stderr.lstrip().split("\n", 1)[0]
    tool_said = first.startswith("bwrap: ") and not first.startswith("bwrap: execvp")
    tool_said = tool_said or first.startswith(("elfship-sandbox: setup failed", "unshare: "))
    if done.timed_out or not tool_said:
        return
    if "namespace" in first or "uid map" in first or "Operation not permitted" in first:
        raise ElfshipError(
            f"cannot create the sandbox for --run: {first}",
            fix="allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or run as root",
        )
    raise ElfshipError(f"cannot create the sandbox for --run ({method}): {first}")


__all__ = [
    "METHODS",
    "Emulator",
    "SandboxRun",
    "choose_method",
    "find_emulator",
    "run_sandboxed",
    "runs_natively",
]
