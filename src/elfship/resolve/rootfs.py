"""A view of a filesystem as the loader inside it sees it: paths inside a root, symlinks kept inside it.

On this machine (root None or "/") the kernel resolves paths itself. Inside a root, every symlink is
followed by hand so that an absolute target like /lib/x86_64-linux-gnu/libc.so.6 means ROOT/lib/...,
and ".." never climbs above ROOT: nothing resolved here can escape the root.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from collections import deque
from dataclasses import dataclass

MAX_SYMLINKS = 40  # Linux's limit (MAXSYMLINKS) before ELOOP

OUTCOME_ABSENT = "absent"
OUTCOME_NOT_DIR = "not a directory"  # a path component is a file (ENOTDIR)
OUTCOME_UNREADABLE = "unreadable"
OUTCOME_LOOP = "symlink loop"


@dataclass(frozen=True)
class Located:
    """A file that exists: where the loader names it and where it really is on this machine."""

    path: str  # as asked, inside the root
    real_path: str  # symlinks resolved, still inside the root
    host_path: str  # real_path with the root prefix: the file to read on this machine
    st: os.stat_result

    @property
    def file_id(self) -> tuple[int, int]:
        return (self.st.st_dev, self.st.st_ino)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


def outcome_for(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return OUTCOME_ABSENT
    if exc.errno == errno.ENOTDIR:
        return OUTCOME_NOT_DIR
    if exc.errno == errno.ENAMETOOLONG:
        return "name too long"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OUTCOME_UNREADABLE
    if exc.errno == errno.ELOOP:
        return OUTCOME_LOOP
    return f"error ({os.strerror(exc.errno or 0)})"


class FileView:
    """Paths as a loader inside ROOT sees them. root=None means this machine."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        real = os.path.realpath(os.fspath(root)) if root is not None else None
        self.root: str | None = None if real in (None, "/") else real
        self._dirs: dict[str, str] = {}  # inside dir -> resolved inside dir, or an outcome
        self._located: dict[str, Located | str] = {}
        self._real: dict[str, str] = {}

    @property
    def is_host(self) -> bool:
        return self.root is None

    def host(self, real_path: str) -> str:
        """The path on this machine of an already resolved inside path."""
        return real_path if self.root is None else self.root + real_path

    def absolute(self, path: str) -> str:
        """Make a relative path absolute the way a process started at the top of the root would."""
        if path.startswith("/"):
            return path
        base = os.getcwd() if self.root is None else "/"
        return os.path.normpath(os.path.join(base, path))

    def locate(self, path: str) -> Located | str:
        """The file at PATH (inside), or the outcome that says why it is not usable."""
        path = self.absolute(path)
        cached = self._located.get(path)
        if cached is None:
            cached = self._locate(path)
            self._located[path] = cached
        return cached

    def is_dir(self, path: str) -> bool:
        found = self.locate(path)
        return isinstance(found, Located) and found.is_dir

    def glob(self, pattern: str) -> list[str]:
        """Inside paths matching an absolute glob pattern, sorted like ldconfig does (glob's order)."""
        if self.root is None:
            return sorted(glob.glob(pattern))
        return sorted(p[len(self.root) :] for p in glob.glob(self.root + pattern))

    def _locate(self, path: str) -> Located | str:
        if self.root is None:
            try:
                st = os.stat(path)
            except OSError as exc:
                return outcome_for(exc)
            return Located(path, path, path, st)
        real = self._resolve(path)
        if not real.startswith("/"):
            return real  # an outcome
        try:
            st = os.stat(self.root + real)  # fully resolved: no symlink left to escape through
        except OSError as exc:
            return outcome_for(exc)
        return Located(path, real, self.root + real, st)

    def real_path(self, path: str) -> str:
        """Symlinks resolved inside the root (on this machine: os.path.realpath)."""
        real = self._real.get(path)
        if real is None:
            if self.root is None:
                real = os.path.realpath(path)
            else:
                walked = self._resolve(self.absolute(path))
                real = walked if walked.startswith("/") else path
            self._real[path] = real
        return real

    def _resolve(self, path: str) -> str:
        """Walk PATH component by component inside the root; return the real inside path or an outcome."""
        parent, _, name = path.rstrip("/").rpartition("/")
        parent = parent or "/"
        real_parent = self._resolve_dir(parent)
        if not real_parent.startswith("/"):
            return real_parent
        return self._walk(real_parent, deque([name]))

    def _resolve_dir(self, directory: str) -> str:
        """The real inside path of a directory, or the outcome that says why it cannot be walked into."""
        if directory == "/":
            return "/"
        real = self._dirs.get(directory)
        if real is None:
            real = self._walk("/", deque(directory.split("/")))
            if real.startswith("/") and not os.path.isdir(self.host(real)):
                real = OUTCOME_NOT_DIR
            self._dirs[directory] = real
        return real

    def _walk(self, start: str, pending: deque[str]) -> str:
        assert self.root is not None
        parts = [p for p in start.split("/") if p]
        links = 0
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            inside = "/" + "/".join([*parts, part])
            try:
                st = os.lstat(self.root + inside)
            except OSError as exc:
                return outcome_for(exc)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    return OUTCOME_LOOP
                try:
                    target = os.readlink(self.root + inside)
                except OSError as exc:
                    return outcome_for(exc)
                if target.startswith("/"):
                    parts = []
                pending.extendleft(reversed(target.split("/")))
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                return OUTCOME_NOT_DIR
            parts.append(part)
        return "/" + "/".join(parts)
