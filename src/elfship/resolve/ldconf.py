"""Read ld.so.conf the way ldconfig does: one directory per line, `include GLOB...`, `hwcap` lines ignored.

The loader itself never reads ld.so.conf: its directories reach ld.so only through ld.so.cache. We read it
to explain a missing library ("it is in an ld.so.conf directory but the cache does not list it").
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from elfship.resolve.rootfs import FileView, Located

MAX_INCLUDE_DEPTH = 32


@dataclass(frozen=True)
class LdConf:
    directories: tuple[str, ...]  # in ldconfig's order, duplicates removed, inside the root
    files: tuple[str, ...]  # every configuration file read
    warnings: tuple[str, ...] = ()


def read_ld_so_conf(view: FileView, path: str = "/etc/ld.so.conf") -> LdConf:
    reader = _ConfReader(view)
    reader.read(path, ())
    return LdConf(tuple(reader.directories), tuple(reader.files), tuple(reader.warnings))


class _ConfReader:
    def __init__(self, view: FileView) -> None:
        self.view = view
        self.directories: list[str] = []
        self.files: list[str] = []
        self.warnings: list[str] = []

    def read(self, path: str, chain: tuple[str, ...]) -> None:
        found = self.view.locate(path)
        if not isinstance(found, Located) or found.is_dir:
            if not chain and found == "absent":
                return  # no ld.so.conf at all is normal (musl systems, minimal roots)
            self.warnings.append(
                f"{path}: cannot read ({found if isinstance(found, str) else 'a directory'})"
            )
            return
        real = self.view.real_path(path)
        if real in chain:
            loop = " -> ".join([*chain, real])
            self.warnings.append(f"ld.so.conf include loop: {loop}; stopped following it")
            return
        if len(chain) >= MAX_INCLUDE_DEPTH:
            self.warnings.append(f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH}; stopped")
            return
        try:
            with open(found.host_path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            self.warnings.append(f"{path}: cannot read ({exc.strerror})")
            return
        self.files.append(path)
        for line in lines:
            self._line(line, path, (*chain, real))

    def _line(self, line: str, path: str, chain: tuple[str, ...]) -> None:
        text = line.split("#", 1)[0].strip()
        if not text:
            return
        keyword = text.split(None, 1)[0]
        if keyword == "include":
            for pattern in text[len("include") :].split():
                if not pattern.startswith("/"):
                    pattern = os.path.join(os.path.dirname(path), pattern)
                for match in self.view.glob(pattern):
                    self.read(match, chain)
            return
        if keyword.lower() == "hwcap":
            return
        directory = text.rstrip("/") or "/"
        if "=" in directory:  # "dir=libc5" from the libc5 era: ldconfig drops the type suffix
            directory = directory.split("=", 1)[0]
        if directory not in self.directories:
            self.directories.append(directory)
