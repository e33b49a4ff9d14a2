"""Carry a mount plan out with bubblewrap (what Flatpak uses): every namespace unshared, no capabilities,
an unprivileged uid/gid inside, the sandbox killed with its parent."""

from __future__ import annotations

from collections.abc import Sequence

from elfship.sandbox.limits import INSIDE_ID
from elfship.sandbox.plan import MountPlan, Op

ENVIRONMENT = (("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), ("LANG", "C"))


def bwrap_argv(
    bwrap: str,
    plan: MountPlan,
    argv: list[str],
    file_fds: Sequence[int] | int | None,
    emulator_fd: int | None = None,
) -> list[str]:
    """file_fds: one open fd per placed file, in the plan's order (the program first); a single int is the
    program's alone."""
    fds = (file_fds,) if isinstance(file_fds, int) else tuple(file_fds or ())
    command = [
        bwrap,
        "--unshare-user",  # explicit: --unshare-all only *tries* the user namespace
        "--unshare-all",  # ipc, pid, net, uts, cgroup
        "--unshare-cgroup",
        "--disable-userns",  # no nested user namespace (a path back to capabilities)
        "--uid",
        str(INSIDE_ID),
        "--gid",
        str(INSIDE_ID),
        "--hostname",
        "elfship-sandbox",
        "--die-with-parent",
        "--new-session",  # no TIOCSTI into the user's terminal
        "--cap-drop",
        "ALL",
        "--clearenv",
    ]
    for name, value in ENVIRONMENT:
        command += ["--setenv", name, value]
    for op in plan.ops:
        command += _op_args(op, plan, emulator_fd if op.kind == "emulator" else _fd_of(op, fds))
    return [*command, "--chdir", "/", "--", *argv]


def _fd_of(op: Op, fds: tuple[int, ...]) -> int | None:
    return fds[int(op.source)] if op.kind == "file" else None


def _op_args(op: Op, plan: MountPlan, data_fd: int | None) -> list[str]:
    if op.kind == "ro-bind":
        return ["--ro-bind", op.source, op.dest]
    if op.kind == "symlink":
        return ["--symlink", op.source, op.dest]
    if op.kind == "tmpfs":
        size = plan.tmp_size if op.dest == "/tmp" else 1 << 20
        return ["--size", str(size), "--tmpfs", op.dest]
    if op.kind in ("file", "emulator"):
        assert data_fd is not None
        return ["--perms", "0755", "--ro-bind-data", str(data_fd), op.dest]
    if op.kind in ("dir", "proc", "dev", "remount-ro"):
        return [f"--{op.kind}", op.dest]
    raise ValueError(op.kind)
