"""Put the built binary where the user asked, atomically: a temp file in the destination directory, renamed.

An interrupted or failed build leaves the destination as it was (no half-written file, no temp file left).
An existing file is replaced only when it is an ELF file (a previous build's output): elfship never
overwrites a file of the user's that it did not make.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from elfship.atomic import replacing
from elfship.errors import ElfshipError, ToolMissingError, UsageError

ELF_MAGIC = b"\x7fELF"


def prepare_output_dir(directory: Path) -> Path:
    """Create -o DIR if needed; refuse a path that is a file."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"-o {directory} is a file, not a directory", fix="pass a directory to -o")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create {directory}: {exc.strerror}", fix="choose a writable directory"
        ) from None
    return directory


def check_replaceable(destination: Path) -> None:
    if destination.is_dir():
        raise UsageError(f"{destination} is a directory", fix="choose another -o directory")
    if destination.exists() and not _is_elf(destination):
        raise UsageError(
            f"{destination} exists and is not a binary elfship built; not overwriting it",
            fix="move it away or choose another -o directory",
        )


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def install(source: Path, destination: Path, *, strip_tool: str | None = None) -> int:
    """Copy (and with strip_tool, strip) source to destination atomically; returns the final size."""
    check_replaceable(destination)
    with replacing(destination, mode=0o755) as temp:
        shutil.copyfile(source, temp)
        if strip_tool is not None:
            _strip_in_place(strip_tool, temp)
    return destination.stat().st_size


def _strip_in_place(strip_tool: str, path: Path) -> None:
    try:
        done = subprocess.run([strip_tool, "--strip-all", str(path)], capture_output=True, text=True)
    except FileNotFoundError:
        raise ToolMissingError(f"{strip_tool} not found", fix="apt-get install binutils") from None
    if done.returncode != 0:
        raise ElfshipError(f"strip failed on {path}: {done.stderr.strip()[-300:]}")


def require_strip(strip_tool: str | None) -> str:
    if strip_tool is None:
        raise ToolMissingError(
            "--strip needs the strip tool, which is not installed", fix="apt-get install binutils"
        )
    return strip_tool
