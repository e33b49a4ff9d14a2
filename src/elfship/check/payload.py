"""A directory or a wheel checked as a whole: its ELF files, minus those that only travel with another.

An elfship bundle (a directory with elfship-bundle.json) is its launcher and its program, the program with
every library of the bundle's lib/ shipped along, glibc and its loader included.

`elfship check DIR|WHEEL --target T` answers for every program and module of the payload; a library that
one of them reaches through $ORIGIN (a wheel's `<pkg>.libs/`, an application's `lib/`) is checked as
shipped along with it, not on its own. A wheel is unpacked into a temporary directory first, within limits.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from elfship.check.shipped import Shipped, shipped_libraries
from elfship.elf import ElfInfo, read_elf
from elfship.errors import ElfError, UsageError
from elfship.record import record, replace

MAX_FILES = 50_000  # files looked at in one payload
MAX_MANIFEST = 16 << 20  # bytes of a bundle's elfship-bundle.json read
MAX_UNPACKED = 4 << 30  # bytes a wheel may unpack to (a zip bomb stops here, before anything is written)


@record
class Member:
    display: str  # what the user sees: DIR/sub/file, or WHEEL:member
    info: ElfInfo
    shipped: Mapping[str, Shipped] | None = None  # declared by the payload (a bundle); None = find them


@contextlib.contextmanager
def payload_members(path: str) -> Iterator[list[Member]]:
    """The ELF files of a directory or wheel that are checked on their own (temporary files live as long
    as the context). Raises UsageError for a wheel that is not a readable zip or unpacks too large."""
    if os.path.isdir(path):
        members = list(_elf_files(Path(path), Path(path), path))
        yield _bundle_entries(Path(path), members) or _entries(members)
        return
    with tempfile.TemporaryDirectory(prefix="elfship-wheel-") as scratch:
        _unpack(path, Path(scratch))
        yield _entries(list(_elf_files(Path(scratch), Path(scratch), path + ":")))


def _unpack(wheel: str, into: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = archive.infolist()
            if len(members) > MAX_FILES or sum(m.file_size for m in members) > MAX_UNPACKED:
                raise UsageError(
                    f"{wheel}: unpacks to more than {MAX_FILES} files or {MAX_UNPACKED >> 30} GiB"
                )
            archive.extractall(into)  # member names with .. or a leading / are confined by zipfile
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(
            f"{wheel}: not a readable wheel ({exc})", fix="give a .whl file or a directory"
        ) from None


def _elf_files(top: Path, base: Path, label: str) -> Iterator[Member]:
    seen = 0
    for directory, subdirectories, names in os.walk(top):  # symlinked directories are not entered
        subdirectories.sort()  # a stable order, walked as it is read (no whole-tree listing first)
        for name in sorted(names):
            seen += 1
            if seen > MAX_FILES:
                raise UsageError(f"{label}: more than {MAX_FILES} files", fix="check a smaller directory")
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.path.isfile(path) or not _starts_elf(path):
                continue
            try:
                info = read_elf(path)
            except ElfError:
                continue  # a damaged ELF inside a payload is reported when checked on its own
            relative = os.path.relpath(path, base)
            shown = f"{label}{relative}" if label.endswith(":") else os.path.join(label, relative)
            yield Member(shown, info)


def _starts_elf(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def _bundle_entries(top: Path, members: list[Member]) -> list[Member] | None:
    """An elfship bundle: its launcher, and its program with every library of lib/ shipped along (the
    launcher starts the bundled loader with --library-path lib). None when `top` is not a bundle."""
    from elfship.bundle.layout import MANIFEST  # imported here: only a directory check needs the bundle code

    manifest = _read_manifest(top / MANIFEST)
    if manifest is None:
        return None
    program = f"bin/{manifest.get('program')}"
    by_path = {os.path.relpath(m.info.path, top): m for m in members}
    if program not in by_path:
        return None
    libraries = {
        os.path.basename(relative): Shipped(
            os.path.basename(relative), m.info.path, m.info, manifest["program"]
        )
        for relative, m in by_path.items()
        if relative.startswith("lib/")
    }
    launchers = [m for relative, m in by_path.items() if "/" not in relative]
    return [*launchers, replace(by_path[program], shipped=libraries)]


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            document = json.loads(handle.read(MAX_MANIFEST))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("elfship_bundle") != 1:
        return None
    return document


def _entries(members: list[Member]) -> list[Member]:
    """Every member that no other member ships along."""
    travelling = {
        os.path.realpath(library.path)
        for member in members
        for library in shipped_libraries(member.info).values()
    }
    return [m for m in members if os.path.realpath(m.info.path) not in travelling]
