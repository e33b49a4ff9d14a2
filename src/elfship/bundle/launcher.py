"""The launcher at OUT/<program>: a tiny static C program compiled once and cached, or a POSIX sh fallback.

The C launcher is the same binary for every bundle (per CPU): what to run is a config block appended to it
(format documented at the top of launcher.c), so nothing is compiled per program.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from elfship.bundle.model import LoaderSetup
from elfship.cachedir import cache_dir
from elfship.errors import UsageError
from elfship.record import record

MAGIC = b"ELFSHIP1"
PLACEHOLDER = "@DIR@"

# ElfInfo.machine -> zig target triple for a static musl launcher.
_ZIG_TARGETS = {
    "x86_64": "x86_64-linux-musl",
    "i386": "x86-linux-musl",
    "aarch64": "aarch64-linux-musl",
    "arm": "arm-linux-musleabihf",
    "riscv64": "riscv64-linux-musl",
    "ppc64le": "powerpc64le-linux-musl",
    "s390x": "s390x-linux-musl",
}
_HOST_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


@record
class Compiler:
    name: str  # "musl-gcc", "zig" or "cc" (glibc static: larger, still runs anywhere)
    command: tuple[str, ...]  # the compiler, ready for flags


# launcher.c includes the others (one translation unit); all are package data.
SOURCE_FILES = ("launcher.c", "inflate.c", "unlzma.c", "unpack.c")
# Small: the launcher is copied into every bundle, uncompressed. Unused functions dropped, no unwind tables (C,
# no exceptions), and for GNU ld code and read-only data in one segment, as lld (zig) lays them out by default,
# instead of each padded to a page. With launcher.c's own formatting instead of printf: 38 KB with musl-gcc
# (58.8 KB before), 34 KB with zig.
GNU_LD_FLAGS = ("-Wl,-z,noseparate-code",)  # zig's linker refuses the option (its default already)
CFLAGS = (
    "-static",
    "-Os",
    "-s",
    "-ffunction-sections",
    "-fdata-sections",
    "-Wl,--gc-sections",
    "-fno-asynchronous-unwind-tables",
)


def launcher_sources() -> dict[str, bytes]:
    package = importlib.resources.files("elfship.bundle")
    return {name: package.joinpath(name).read_bytes() for name in SOURCE_FILES}


def compilers_for(machine: str) -> list[Compiler]:
    """Compilers that can build a static launcher for this CPU, best first."""
    found: list[Compiler] = []
    native = _HOST_MACHINES.get(platform.machine()) == machine
    if native and shutil.which("musl-gcc"):
        found.append(Compiler("musl-gcc", ("musl-gcc",)))
    target = _ZIG_TARGETS.get(machine)
    if target is not None:
        if importlib.util.find_spec("ziglang") is not None:
            found.append(Compiler("zig", (sys.executable, "-m", "ziglang", "cc", "-target", target)))
        elif shutil.which("zig"):
            found.append(Compiler("zig", ("zig", "cc", "-target", target)))
    compiler = shutil.which("cc") or shutil.which("gcc")
    if native and compiler:
        found.append(Compiler("cc", (compiler,)))
    return found


def compiled_launcher(machine: str) -> bytes | None:
    """The launcher binary for this CPU, compiled on first use and cached; None when no compiler can build it."""
    sources = launcher_sources()
    for compiler in compilers_for(machine):
        digest = hashlib.sha256(
            repr((compiler.name, compiler.command[-1], machine, CFLAGS, GNU_LD_FLAGS)).encode()
        )
        for name, text in sources.items():
            digest.update(name.encode() + b"\0" + text)
        key = digest.hexdigest()
        cached = cache_dir() / "launchers" / key[:24] / "launcher"
        if cached.is_file():
            return cached.read_bytes()
        built = _compile(compiler, sources, cached)
        if built is not None:
            return built
    return None


def _compile(compiler: Compiler, sources: dict[str, bytes], cached: Path) -> bytes | None:
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    with tempfile.TemporaryDirectory(dir=cached.parent) as work:
        for name, text in sources.items():
            (Path(work) / name).write_bytes(text)
        src = Path(work) / SOURCE_FILES[0]
        out = Path(work) / "launcher"
        flags = CFLAGS if compiler.name == "zig" else (*CFLAGS, *GNU_LD_FLAGS)
        command = [*compiler.command, *flags, "-o", str(out), str(src)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0 or not out.is_file():
            return None
        binary = out.read_bytes()
        os.replace(out, cached)  # atomic: a concurrent bundle sees the old state or the whole file
    return binary


def config_block(name: str, setup: LoaderSetup, *, payload_size: int = 0, payload_hash: str = "") -> bytes:
    """The config text the C launcher reads from its own tail, with its length and magic."""
    lines = [f"program={name}", f"loader={setup.path}", f"exec=libexec/{name}"]
    lines += [f"arg={arg}" for arg in setup.args]
    lines += ["argv0=1"] if setup.argv0 else []
    lines += [f"env={assignment}" for assignment in setup.env]
    if payload_size:
        lines += [f"payload_size={payload_size}", f"payload_hash={payload_hash}"]
    for line in lines:
        if "\n" in line or "\0" in line:
            raise UsageError(f"cannot bundle {name!r}: a newline or NUL in a name", fix="rename the program")
    text = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    return text + struct.pack("<I", len(text)) + MAGIC


def sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _sh_word(template: str) -> str:
    """A shell word for a config value: @DIR@ becomes "$dir", the rest is quoted literally."""
    parts = template.split(PLACEHOLDER)
    return '"$dir"'.join(sh_quote(part) if part else "" for part in parts) or "''"


FIND_SELF = """\
self=$0
case $self in
*/*) ;;
*) self=$(command -v -- "$self") || { echo "elfship launcher: cannot find $0" >&2; exit 127; } ;;
esac
"""

_FOLLOW_LINKS = """\
while [ -h "$self" ]; do
    link=$(readlink -- "$self") || break
    case $link in /*) self=$link ;; *) self=${self%/*}/$link ;; esac
done
dir=$(cd -P -- "${self%/*}" && pwd -P) || exit 127
self=$dir/${self##*/}
"""


def sh_exec(name: str, setup: LoaderSetup) -> str:
    q_name = sh_quote(name)
    env = "".join(f"export {_sh_word(assignment)}\n" for assignment in setup.env)
    args = " ".join(_sh_word(arg) for arg in setup.args)
    argv0 = ' --argv0 "$0"' if setup.argv0 else ""
    return (
        f'ELFSHIP_EXE="$dir"/bin/{q_name}\n'
        "ELFSHIP_LAUNCHER=$self\n"
        "ELFSHIP_ARGV0=$0\n"
        "export ELFSHIP_EXE ELFSHIP_LAUNCHER ELFSHIP_ARGV0\n"
        f"{env}"
        f'exec "$dir"/libexec/{q_name} {args}{argv0} "$ELFSHIP_EXE" "$@"\n'
    )


def sh_launcher(name: str, setup: LoaderSetup) -> bytes:
    """POSIX sh launcher for OUT/<name> when no C compiler is available."""
    script = (
        "#!/bin/sh\n"
        "# elfship bundle launcher, POSIX sh fallback (no C compiler was found when the bundle was made).\n"
        f"# Runs bin/{name} through the bundled loader; see elfship's docs/bundle.md.\n"
        + FIND_SELF
        + _FOLLOW_LINKS
        + sh_exec(name, setup)
    )
    return script.encode("utf-8", "surrogateescape")
