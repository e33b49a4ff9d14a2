"""A program of another architecture runs in the sandbox through a static qemu-user, placed and started
explicitly (`qemu-aarch64 /usr/local/bin/app ARGS`): no binfmt_misc registration, no state on the host.

Only a static qemu works there: the sandbox shows the user's root, not this machine's libraries. Debian's
`qemu-user-static` installs them as /usr/bin/qemu-ARCH-static.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

from elfship.elf import read_elf
from elfship.errors import ElfError
from elfship.record import record

# Where the emulator appears inside the sandbox: under the sandbox's own fresh /tmp, never in the root.
EMULATOR_DIR = "/tmp/.elfship-emulator"
QEMU_FIX = "apt-get install qemu-user-static"
# Architectures this machine runs without help (the kernel's compat modes).
NATIVE = {"x86_64": frozenset({"x86_64", "i386"}), "aarch64": frozenset({"aarch64", "arm"})}


@record
class Emulator:
    """A static qemu-user on the host (`host_path`) and the name it is started by inside the sandbox."""

    name: str  # qemu-aarch64
    host_path: Path

    @property
    def inside(self) -> str:
        return f"{EMULATOR_DIR}/{self.name}"


def host_machine() -> str:
    machine = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def runs_natively(machine: str) -> bool:
    host = host_machine()
    return machine in NATIVE.get(host, frozenset({host}))


def find_emulator(machine: str, path: str | None = None) -> Emulator | None:
    """A static qemu-user for `machine`, or None when none is installed (or only a dynamic one)."""
    if not machine or machine.startswith("unknown") or "/" in machine:
        return None
    search = path if path is not None else os.environ.get("PATH", "")
    for name in (f"qemu-{machine}-static", f"qemu-{machine}"):
        found = shutil.which(name, path=search)
        if found and _is_static(found):
            return Emulator(f"qemu-{machine}", Path(os.path.realpath(found)))
    return None


def _is_static(path: str) -> bool:
    try:
        return read_elf(path).interpreter is None
    except (ElfError, OSError):
        return False
