"""The unshare fallback's inside half: carry out the mount plan, then become nobody and exec the program.

Runs as pid 1 of fresh user, mount, pid, net, ipc, uts and cgroup namespaces made by `unshare`. It has
capabilities only inside those namespaces, uses them to build the sandbox's file system, then enters a
nested user namespace where it is uid 65534, drops every capability and sets no_new_privs before exec: the
program never holds a capability, not even inside the sandbox.

Self-contained (standard library only): it is passed to `python3 -I -S -c`, so it does not depend on where
elfship is installed or on who may read that directory.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
CLONE_NEWUSER = 0x10000000
INSIDE_ID = 65534
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
LIBC = ctypes.CDLL(None, use_errno=True)


def call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    call(
        LIBC.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), "mount " + target
    )


def read_only(target: str) -> None:
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def bind(source: str, target: str, writable: bool = False) -> None:
    if not os.path.lexists(target):
        if os.path.isdir(source):
            os.mkdir(target)
        else:
            open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        read_only(target)


def make_dev(target: str) -> None:
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, os.path.join(target, name), writable=True)
    for name, link in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(link, os.path.join(target, name))
    os.mkdir(os.path.join(target, "shm"))
    read_only(target)


def carry_out(op: dict[str, str], new: str, plan: dict[str, Any], fds: dict[str, int]) -> None:
    """fds: "emulator" and "file INDEX" (the placed files, the program first) -> an open fd."""
    kind, dest, source = op["kind"], new + op["dest"].rstrip("/"), op["source"]
    dest = dest or new
    if kind == "ro-bind":
        bind(source, dest)
    elif kind == "tmpfs":
        size, mode = (plan["tmp_size"], "1777") if op["dest"] == "/tmp" else (1 << 20, "0755")
        mount("tmpfs", dest, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")
    elif kind == "dir":
        os.makedirs(dest, mode=0o755, exist_ok=True)
    elif kind == "symlink":
        os.symlink(source, dest)
    elif kind == "proc":
        mount("proc", dest, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    elif kind == "dev":
        make_dev(dest)
    elif kind in ("file", "emulator"):
        key = f"file {source}" if kind == "file" else kind
        copy = os.path.join(plan["scratch"], key.replace(" ", "-"))
        with open(copy, "xb") as out, os.fdopen(fds[key], "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.chmod(copy, 0o755)
        bind(copy, dest)
    elif kind == "remount-ro":
        read_only(dest)


def become_nobody(new: str) -> None:
    # The nested user namespace must be made before chroot (the kernel refuses it inside one); its
    # capabilities then allow the chroot, and the uid change below takes them all away.
    uid, gid = os.getuid(), os.getgid()
    call(LIBC.unshare(ctypes.c_int(CLONE_NEWUSER)), "unshare")
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{INSIDE_ID} {uid} 1"),
        ("gid_map", f"{INSIDE_ID} {gid} 1"),
    ):
        with open("/proc/self/" + name, "w") as handle:
            handle.write(text)
    os.chroot(new)
    os.chdir("/")
    os.setresgid(INSIDE_ID, INSIDE_ID, INSIDE_ID)
    os.setresuid(INSIDE_ID, INSIDE_ID, INSIDE_ID)  # a non-zero uid: every capability is gone
    call(LIBC.prctl(38, ctypes.c_ulong(1), 0, 0, 0), "no_new_privs")
    call(LIBC.prctl(1, ctypes.c_ulong(9), 0, 0, 0), "pdeathsig")  # reset by the uid change


def main() -> None:
    # argv: the plan's fd, the emulator's (-1 for none), then one per placed file, the program first.
    plan_fd = int(sys.argv[1])
    fds = {"emulator": int(sys.argv[2])}
    fds.update((f"file {index}", int(fd)) for index, fd in enumerate(sys.argv[3:]))
    with os.fdopen(plan_fd, "rb") as handle:
        plan = json.loads(handle.read(1 << 24))
    scratch = plan["scratch"]
    mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, f"size={plan['file_size']},mode=0755")
    new = os.path.join(scratch, "root")
    os.mkdir(new)
    for op in plan["ops"]:
        carry_out(op, new, plan, fds)
    become_nobody(new)
    argv = plan["argv"]
    env = dict(plan["env"])
    os.closerange(3, 1 << 16)
    try:
        os.execve(argv[0], argv, env)
    except OSError as exc:
        sys.stderr.write(f"elfship-sandbox: exec {argv[0]}: {exc.strerror}\n")
        os._exit(127 if exc.errno == 2 else 126)


if __name__ == "__main__":
    try:
        main()
    except OSError as exc:
        sys.stderr.write(f"elfship-sandbox: setup failed: {exc}\n")
        os._exit(125)
