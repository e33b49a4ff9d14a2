"""A view of a filesystem as the loader inside it sees it: paths inside a root, symlinks kept inside it.

On this machine (root None or "/") the kernel resolves paths itself. Inside a root, every symlink is
followed by hand so that an absolute target like /lib/x86_64-linux-gnu/libc.so.6 means ROOT/lib/...,
and ".." never climbs above ROOT: nothing resolved here can escape the root.

This is the one door to a root's files: every read for --root (configuration, cache, os-release, libraries,
the program when it is inside the root) goes through read_file, open_file or the ELF readers below, which
open relative to the root with the kernel's help (confined.py), only regular files, and within a size bound.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import stat
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from elfship.elf import ElfInfo, read_elf, read_version_symbols
from elfship.elf.image import file_type
from elfship.elf.model import VersionSymbols
from elfship.errors import ElfError, ElfshipError
from elfship.record import field, record, replace
from elfship.resolve.confined import (
    NotRegularError,
    RootDir,
    fd_path,
    open_directory,
    open_regular,
)
from elfship.resolve.confined import read_bounded as _read_bounded

MAX_SYMLINKS = 40  # Linux's limit (MAXSYMLINKS) before ELOOP

OUTCOME_ABSENT = "absent"
OUTCOME_NOT_DIR = "not a directory"  # a path component is a file (ENOTDIR)
OUTCOME_UNREADABLE = "unreadable"
OUTCOME_LOOP = "symlink loop"
MAX_GLOB_MATCHES = 4096  # an include pattern like /*/*/*/* must not walk a whole root
MAX_DIRECTORY_ENTRIES = 200_000  # entries read from one directory (a glob, a library directory)


@record
class Located:
    """A file that exists: where the loader names it and where it really is on this machine."""

    path: str  # as asked, inside the root
    real_path: str  # symlinks resolved, still inside the root
    host_path: str  # real_path with the root prefix: the file's name on this machine (for messages)
    st: os.stat_result
    root: RootDir | None = field(default=None, compare=False, repr=False)  # opens are relative to it

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
        self.given = os.path.abspath(os.fspath(root)) if self.root is not None and root is not None else None
        self.anchor = _anchor(self.root) if self.root is not None else None
        self._dirs: dict[str, str] = {}  # inside dir -> resolved inside dir, or an outcome
        self._assumed: set[str] = set()  # real inside directories taken to exist (see assume_directory)
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
        path = self.absolute(path.split("\0", 1)[0])  # a C string ends at its NUL: the loader's does
        cached = self._located.get(path)
        if cached is None:
            cached = self._locate(path)
            self._located[path] = cached
        return cached

    def is_dir(self, path: str) -> bool:
        found = self.locate(path)
        return isinstance(found, Located) and found.is_dir

    def assume_directory(self, path: str) -> str:
        """Take the directory PATH (inside) to exist even where the root lacks it, and return its real path.

        A program placed at /opt/app/bin/NAME makes /opt/app/bin exist (--run creates it), so
        $ORIGIN/../lib must resolve through it as the kernel would then resolve it.
        """
        if self.root is None or path == "/":
            return path
        real = self._resolve(path)
        if real.startswith("/"):
            return real
        parent, _, name = path.rstrip("/").rpartition("/")
        real = _join(self.assume_directory(parent or "/"), name)
        if real not in self._assumed:
            self._assumed.add(real)
            self._dirs.clear()  # earlier answers may have said "absent" for it
            self._located.clear()
            self._real.clear()
        return real

    def inside(self, path: str) -> str | None:
        """The inside path of a host path that lies under the root (as given or resolved), else None."""
        if self.root is None:
            return None
        absolute = os.path.abspath(path)
        for top in dict.fromkeys((self.root, self.given or self.root)):
            if absolute.startswith(top + "/"):
                return absolute[len(top) :]
        return None

    def glob(self, pattern: str) -> list[str]:
        """Inside paths matching an absolute glob pattern, sorted like ldconfig does (glob's order).

        Inside a root the pattern is matched component by component against directories listed inside the
        root ("..", symlinks and all resolved there), never against this machine's files.
        """
        pattern = pattern.split("\0", 1)[0]
        if self.root is None:
            return sorted(glob.glob(pattern))[:MAX_GLOB_MATCHES]
        candidates = ["/"]
        for part in (p for p in pattern.split("/") if p):
            following: list[str] = []
            for base in candidates:
                if glob.has_magic(part):
                    names = (n for n in self.listdir(base) if _glob_match(n, part))
                    following.extend(_join(base, name) for name in sorted(names))
                else:
                    following.append(_join(base, part))
                if len(following) >= MAX_GLOB_MATCHES:
                    break
            candidates = following[:MAX_GLOB_MATCHES]
        return sorted(c for c in candidates if c != "/" and isinstance(self.locate(c), Located))

    def listdir(self, path: str) -> list[str]:
        """Names in the directory PATH (inside), [] when it is not a listable directory."""
        return [name for name, _ in self.scandir(path)]

    def scandir(self, path: str) -> list[tuple[str, bool]]:
        """(name, is a symlink) for the entries of directory PATH, read through a confined descriptor."""
        found = self.locate(path)
        if not isinstance(found, Located) or not found.is_dir:
            return []
        try:
            fd = open_directory(self.anchor, found.real_path)
        except OSError:
            return []
        entries: list[tuple[str, bool]] = []
        try:
            with os.scandir(fd) as listing:
                for entry in listing:
                    entries.append((entry.name, entry.is_symlink()))
                    if len(entries) >= MAX_DIRECTORY_ENTRIES:
                        break
        except OSError:
            pass
        finally:
            os.close(fd)
        return entries

    def read_file(self, path: str, limit: int) -> bytes | str:
        """The bytes of the regular file at PATH (inside), or the outcome that says why not.

        A file larger than LIMIT is refused whole ("larger than ...") rather than read in part: a truncated
        configuration would be misread silently.
        """
        found = self.locate(path)
        if isinstance(found, str):
            return found
        return read_located(found, limit)

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
            # Fully resolved, so lstat: a component swapped for a symlink since the walk is not followed.
            st = os.lstat(self.root + real)
        except OSError as exc:
            return outcome_for(exc)
        return Located(path, real, self.root + real, st, self.anchor)

    def real_path(self, path: str) -> str:
        """Symlinks resolved inside the root (on this machine: os.path.realpath)."""
        real = self._real.get(path)
        if real is None:
            if self.root is None:
                real = os.path.realpath(path.split("\0", 1)[0])
            else:
                walked = self._resolve(self.absolute(path.split("\0", 1)[0]))
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
            if real.startswith("/") and real not in self._assumed and not os.path.isdir(self.host(real)):
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
                if exc.errno == errno.ENOENT and inside in self._assumed:
                    parts.append(part)  # a directory the placed program brings with it
                    continue
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


def _anchor(root: str) -> RootDir:
    try:
        return RootDir(root)
    except OSError as exc:
        raise ElfshipError(
            f"root {root}: cannot open ({exc.strerror})", fix="give the directory of a root filesystem"
        ) from None


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def _glob_match(name: str, part: str) -> bool:
    # glob(3): a leading dot is matched only by a pattern that starts with one.
    return fnmatch.fnmatchcase(name, part) and (not name.startswith(".") or part.startswith("."))


def not_regular(st: os.stat_result) -> str | None:
    """The outcome for a file that is not a regular one (checked before opening: never open a device)."""
    if stat.S_ISREG(st.st_mode):
        return None
    return f"not a regular file ({file_type(st.st_mode)})"


@contextmanager
def open_located(found: Located) -> Iterator[tuple[int, os.stat_result]]:
    """A read-only descriptor of a located regular file, opened inside its root. Raises OSError."""
    problem = not_regular(found.st)
    if problem is not None:
        raise NotRegularError(file_type(found.st.st_mode))
    fd, st = open_regular(found.root, found.real_path if found.root is not None else found.host_path)
    try:
        yield fd, st
    finally:
        os.close(fd)


def read_located(found: Located, limit: int, *, whole: bool = True) -> bytes | str:
    """Up to LIMIT bytes of a located file; with whole=True a larger file is an outcome, not a prefix."""
    try:
        with open_located(found) as (fd, st):
            if whole and st.st_size > limit:
                return f"larger than {limit} bytes"
            return _read_bounded(fd, st.st_size, limit)
    except NotRegularError as exc:
        return exc.strerror or "not a regular file"
    except OSError as exc:
        return outcome_for(exc)


def read_elf_located(found: Located, *, with_symbols: bool = False) -> ElfInfo:
    """read_elf of a located file, its bytes read through the confined descriptor. Raises ElfError."""
    with _reader_path(found) as path:
        if path == found.host_path:
            return read_elf(path, with_symbols=with_symbols)
        try:
            info = read_elf(path, with_symbols=with_symbols)
        except ElfError as exc:
            raise ElfError(found.host_path, exc.problem) from None
        return replace(info, path=found.host_path)


def read_symbols_located(found: Located) -> VersionSymbols:
    """read_version_symbols of a located file, read through the confined descriptor. Raises ElfError."""
    with _reader_path(found) as path:
        try:
            return read_version_symbols(path)
        except ElfError as exc:
            raise ElfError(found.host_path, exc.problem) from None


@contextmanager
def _reader_path(found: Located) -> Iterator[str]:
    if found.root is None:
        yield found.host_path  # this machine: the reader opens it itself (O_NONBLOCK, regular files only)
        return
    try:
        with open_located(found) as (fd, _), fd_path(fd, found.host_path) as path:
            yield path
    except NotRegularError as exc:
        raise ElfError(found.host_path, exc.strerror or "not a regular file") from None
    except OSError as exc:
        raise ElfError(found.host_path, f"cannot open: {outcome_for(exc)}") from None
