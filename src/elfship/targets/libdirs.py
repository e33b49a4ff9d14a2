"""The library directories of a root filesystem, and symlink resolution that never leaves the root.

Only what `targets` needs to list a root's libraries: ld.so.conf (with includes) for glibc, the
ld-musl-ARCH.path file for musl, and the default directories both loaders search.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path, PurePosixPath

DEFAULT_DIRECTORIES = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")
MUSL_DEFAULT_PATH = ("/lib", "/usr/local/lib", "/usr/lib")
_MAX_LINKS = 40  # as many symlinks as the kernel follows before ELOOP


def resolve_in_root(root: Path, path: str) -> Path | None:
    """The host path of `path` as seen from inside `root`, following symlinks with `root` as "/".

    Returns None for a dangling link, a loop, or a path that does not exist.
    """
    parts = list(PurePosixPath("/", path).parts[1:])
    current = PurePosixPath("/")
    links = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        host = root / candidate.relative_to("/")
        if host.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                return None
            target = PurePosixPath(os.readlink(host))
            base = PurePosixPath("/") if target.is_absolute() else current
            parts = list((base / target).parts[1:] if target.is_absolute() else target.parts) + parts
            current = base
            continue
        if not host.exists():
            return None
        current = candidate
    return root / current.relative_to("/")


def library_directories(root: Path) -> list[Path]:
    """Existing library directories of the root, ld.so.conf ones first, each real directory once."""
    wanted = [*_ld_so_conf_directories(root), *_musl_path_directories(root), *DEFAULT_DIRECTORIES]
    seen: set[Path] = set()
    result: list[Path] = []
    for directory in wanted:
        host = resolve_in_root(root, directory)
        if host is None or not host.is_dir():
            continue
        real = host.resolve()
        if real not in seen:
            seen.add(real)
            result.append(host)
    return result


def _ld_so_conf_directories(root: Path) -> list[str]:
    return _read_conf(root, "/etc/ld.so.conf", depth=0)


def _read_conf(root: Path, conf: str, depth: int) -> list[str]:
    host = resolve_in_root(root, conf)
    if host is None or not host.is_file() or depth > 8:
        return []
    directories: list[str] = []
    for raw in host.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("hwcap "):
            continue
        if line.startswith("include ") or line.startswith("include\t"):
            for pattern in line.split()[1:]:
                directories += _include(root, conf, pattern, depth)
        else:
            # Old syntax allowed "dir=TYPE" and comma/colon separated lists.
            directories += [d.split("=", 1)[0] for d in line.replace(",", " ").replace(":", " ").split()]
    return [d for d in directories if d.startswith("/")]


def _include(root: Path, conf: str, pattern: str, depth: int) -> list[str]:
    absolute = pattern if pattern.startswith("/") else str(PurePosixPath(conf).parent / pattern)
    host_pattern = str(root) + absolute
    directories: list[str] = []
    for match in sorted(glob.glob(host_pattern)):
        inside = "/" + os.path.relpath(match, root)
        directories += _read_conf(root, inside, depth + 1)
    return directories


def _musl_path_directories(root: Path) -> list[str]:
    etc = resolve_in_root(root, "/etc")
    if etc is None or not etc.is_dir():
        return []
    path_files = sorted(etc.glob("ld-musl-*.path"))
    if not path_files:
        return list(MUSL_DEFAULT_PATH) if sorted((root / "lib").glob("ld-musl-*.so.1")) else []
    text = path_files[0].read_text(encoding="utf-8", errors="replace")
    return [d for d in text.replace(":", "\n").split() if d.startswith("/")]
