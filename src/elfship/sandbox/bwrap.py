"""Carry a mount plan out with bubblewrap (what Flatpak uses): every namespace unshared, no capabilities,
an unprivileged uid/gid inside, the sandbox killed with its parent."""

from __future__ import annotations

from elfship.sandbox.limits import INSIDE_ID
from elfship.sandbox.plan import MountPlan, Op

ENVIRONMENT = (("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), ("LANG", "C"))


def bwrap_argv(
    bwrap: str, plan: MountPlan, argv: list[str], program_fd: int | None, emulator_fd: int | None = None
) -> list[str]:
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
        command += _op_args(op, plan, emulator_fd if op.kind == "emulator" else program_fd)
    return [*command, "--chdir", "/", "--", *argv]


def _op_args(op: Op, plan: MountPlan, data_fd: int | None) -> list[str]:
    if op.kind == "ro-bind":
        return ["--ro-bind", op.source, op.dest]
    if op.kind == "symlink":
        return ["--symlink", op.source, op.dest]
    if op.kind == "tmpfs":
        size = plan.tmp_size if op.dest == "/tmp" else 1 << 20
        return ["--size", str(size), "--tmpfs", op.dest]
    if op.kind in ("program", "emulator"):
        assert data_fd is not None
        return ["--perms", "0755", "--ro-bind-data", str(data_fd), op.dest]
    if op.kind in ("dir", "proc", "dev", "remount-ro"):
        return [f"--{op.kind}", op.dest]
    raise ValueError(op.kind)
