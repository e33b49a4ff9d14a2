"""Read ld.so.conf the way ldconfig does: one directory per line, `include GLOB...`, `hwcap` lines ignored.

The loader itself never reads ld.so.conf: its directories reach ld.so only through ld.so.cache. We read it
to explain a missing library ("it is in an ld.so.conf directory but the cache does not list it").
Every file is read through the root's FileView (confined to the root, regular files only, bounded), and
include patterns are expanded inside the root: `include ../../../../etc/x/*.conf` stays in the root.
"""

from __future__ import annotations

import os

from elfship.record import record
from elfship.resolve.rootfs import OUTCOME_ABSENT, FileView

MAX_INCLUDE_DEPTH = 32
MAX_CONF_FILE = 1 << 20  # one configuration file; real ones are a few hundred bytes
MAX_CONF_TOTAL = 4 << 20  # all files of one ld.so.conf tree together
MAX_CONF_FILES = 512
MAX_DIRECTORIES = 4096


@record
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
        self.directories: dict[str, None] = {}  # ordered set: a huge file must not cost O(n^2)
        self.files: list[str] = []
        self.warnings: list[str] = []
        self.budget = MAX_CONF_TOTAL

    def read(self, path: str, chain: tuple[str, ...]) -> None:
        if len(self.files) >= MAX_CONF_FILES or self.budget <= 0:
            self._warn(
                f"{path}: more than {MAX_CONF_FILES} files or {MAX_CONF_TOTAL} bytes of ld.so.conf; "
                "the rest is ignored"
            )
            return
        data = self.view.read_file(path, min(MAX_CONF_FILE, self.budget))
        if isinstance(data, str):
            if not (not chain and data == OUTCOME_ABSENT):  # no ld.so.conf at all is normal (musl, minimal)
                self._warn(f"{path}: cannot read ({data}); ignored")
            return
        real = self.view.real_path(path)
        if real in chain:
            loop = " -> ".join([*chain, real])
            self._warn(f"ld.so.conf include loop: {loop}; stopped following it")
            return
        if len(chain) >= MAX_INCLUDE_DEPTH:
            self._warn(f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH}; stopped")
            return
        self.budget -= len(data)
        self.files.append(path)
        for line in data.decode("utf-8", "replace").splitlines():
            self._line(line, path, (*chain, real))

    def _warn(self, text: str) -> None:
        if len(self.warnings) < 20 and text not in self.warnings:
            self.warnings.append(text)

    def _line(self, line: str, path: str, chain: tuple[str, ...]) -> None:
        text = line.split("\0", 1)[0].split("#", 1)[0].strip()  # ldconfig sees C strings
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
        if len(self.directories) < MAX_DIRECTORIES:
            self.directories.setdefault(directory, None)
