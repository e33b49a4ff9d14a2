"""Shared by the benchmarks (and the truth test): the ELF files of this machine's system directories."""

from __future__ import annotations

import os
import resource
import stat

SYSTEM_DIRS = ("/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec")
ELF_MAGIC = b"\x7fELF"


def system_elf_files(tops: tuple[str, ...] = SYSTEM_DIRS) -> list[str]:
    """Regular files (not symlinks) that start with the ELF magic, in a stable order; hard links once."""
    paths: list[str] = []
    seen: set[tuple[int, int]] = set()
    for top in tops:
        for directory, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(directory, name)
                if _is_new_elf(path, seen):
                    paths.append(path)
    return paths


def _is_new_elf(path: str, seen: set[tuple[int, int]]) -> bool:
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen:
            return False
        with open(path, "rb") as handle:
            if handle.read(4) != ELF_MAGIC:
                return False
    except OSError:
        return False
    seen.add((st.st_dev, st.st_ino))
    return True


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
