"""rustc's host triple and sysroot, remembered between builds.

Asking rustc costs a process start (20-50 ms through rustup's proxy) on every build, although the answer only
changes when the compiler does. So the answer is kept, keyed on everything that picks the compiler:

- the rustc found (path, and the identity of the file it names: device, inode, size, mtime);
- for rustup's proxy, what rustup chooses the toolchain by: RUSTUP_TOOLCHAIN, RUSTUP_HOME, the directory (for
  `rustup override`), the settings file (`rustup default`, overrides), and every rust-toolchain(.toml) file
  from the directory up to / (path, size, mtime).

Any change gives another key, so the compiler is asked again; a cached sysroot that is gone is asked again too.
Only an ELF executable is trusted this way: a script as RUSTC may answer differently each time, so it is always
asked. This caches facts about the tool, never anything about the binary being built: that is read and checked
on every build (deliver.py).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Mapping
from pathlib import Path

from elfship.atomic import write_bytes
from elfship.cachedir import cache_dir

SUBDIR = "rustc-facts"
MAX_ENTRY = 64 * 1024  # an entry is its key (paths, a few hundred bytes) and two short values
TOOLCHAIN_FILES = ("rust-toolchain", "rust-toolchain.toml")
ELF_MAGIC = b"\x7fELF"


def cache_key(rustc: str, env: Mapping[str, str], cwd: str | None = None) -> str | None:
    """The key for this rustc as called from CWD with ENV (a JSON text, stored in the entry and compared in
    full, so the short checksum naming the entry's file may collide harmlessly); None: never cached."""
    try:
        with open(rustc, "rb") as handle:
            if handle.read(4) != ELF_MAGIC:
                return None
            st = os.fstat(handle.fileno())
    except OSError:
        return None
    cwd = os.getcwd() if cwd is None else cwd
    rustup_home = env.get("RUSTUP_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".rustup"
    )
    parts: list[object] = [
        os.path.abspath(rustc),
        [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns],
        env.get("RUSTUP_TOOLCHAIN"),
        rustup_home,
        cwd,
        _identity(os.path.join(rustup_home, "settings.toml")),
        [[path, _identity(path)] for path in _toolchain_files(cwd)],
    ]
    return json.dumps(parts)


def _identity(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _toolchain_files(cwd: str) -> list[str]:
    """Every rust-toolchain file rustup could read from CWD upwards (its search stops at the first)."""
    found = []
    directory = Path(cwd)
    for candidate in (directory, *directory.parents):
        found += [str(candidate / name) for name in TOOLCHAIN_FILES if (candidate / name).exists()]
    return found


def lookup(key: str | None, cache_dir: Path | None = None) -> tuple[str, Path] | None:
    """(host triple, sysroot) remembered under KEY, when well-formed and the sysroot still exists."""
    if key is None:
        return None
    try:
        with open(_entry(key, cache_dir), "rb") as handle:
            data = handle.read(MAX_ENTRY + 1)
        if len(data) > MAX_ENTRY:
            return None
        entry = json.loads(data)
        host, sysroot = entry["host"], entry["sysroot"]
        if entry["key"] != key:
            return None  # another compiler's entry under the same checksum
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(host, str) and isinstance(sysroot, str) and host and not host.split()[1:]):
        return None
    if not (os.path.isabs(sysroot) and os.path.isdir(sysroot)):
        return None
    return host, Path(sysroot)


def remember(key: str | None, host: str, sysroot: Path, cache_dir: Path | None = None) -> None:
    """Keep the answer; a cache that cannot be written only costs the next build a rustc start."""
    if key is None:
        return
    entry = _entry(key, cache_dir)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(entry, json.dumps({"key": key, "host": host, "sysroot": str(sysroot)}).encode())
    except OSError:
        pass


def _entry(key: str, cache_dir: Path | None) -> Path:
    return (cache_dir or default_cache_dir()) / f"{zlib.crc32(key.encode()):08x}.json"


def default_cache_dir() -> Path:
    return cache_dir() / SUBDIR
