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
from collections.abc import Mapping
from pathlib import Path

from elfship import cachedir

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
    entry = cachedir.recall(cache_dir or default_cache_dir(), key, MAX_ENTRY)  # another key's: None
    host, sysroot = (entry.get("host"), entry.get("sysroot")) if entry is not None else (None, None)
    if not (isinstance(host, str) and isinstance(sysroot, str) and host and not host.split()[1:]):
        return None
    if not (os.path.isabs(sysroot) and os.path.isdir(sysroot)):
        return None
    return host, Path(sysroot)


def remember(key: str | None, host: str, sysroot: Path, cache_dir: Path | None = None) -> None:
    """Keep the answer; a cache that cannot be written only costs the next build a rustc start."""
    if key is None:
        return
    cachedir.remember(cache_dir or default_cache_dir(), key, {"host": host, "sysroot": str(sysroot)})


def default_cache_dir() -> Path:
    return cachedir.cache_dir() / SUBDIR
