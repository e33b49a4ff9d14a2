"""The entry points: resolve() for one program, Resolver for many on one filesystem.

`resolve(path)` answers for this machine, `resolve(path, root=DIR)` for a root filesystem. A Resolver keeps
what can be shared between programs (parsed ELF files, the cache, search results); `scan` uses one for a
whole tree.

Against a root, the program is always somewhere inside it: a path under the root is that file of the root
(its symlinks resolved inside the root, its bytes read through the root), and a program from outside is
placed at `at` (default /usr/local/bin/NAME). Only its bytes come from this machine: $ORIGIN and every
library are looked up in the root.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from elfship.elf import ElfInfo, read_elf
from elfship.errors import ElfError, ElfshipError, UsageError
from elfship.record import replace
from elfship.resolve.dst import directory_of, join
from elfship.resolve.environment import Environment, EnvKey, build_environment, env_key
from elfship.resolve.llpath import environment_ld_library_path
from elfship.resolve.loaderfacts import host_isa_level, normalise_isa
from elfship.resolve.model import ProgramLocation, Resolution
from elfship.resolve.placement import place_in_root
from elfship.resolve.probe import ElfCache
from elfship.resolve.rootfs import FileView, Located
from elfship.resolve.share import SharedWalk, reuse
from elfship.resolve.walk import Filesystem, ProgramStart

PathLike = str | os.PathLike[str]


def resolve(
    path: PathLike,
    *,
    root: PathLike | None = None,
    ld_library_path: Sequence[str] | None = None,
    isa: str | None = None,
    at: str | None = None,
) -> Resolution:
    """What the loader would map for PATH, and why. Raises ElfError for a file that is not ELF.

    at: where a program from outside the root stands inside it (default /usr/local/bin/NAME).
    """
    return Resolver(root, ld_library_path=ld_library_path, isa=isa).resolve(path, at=at)


class Resolver:
    """Resolve many programs against one filesystem, sharing parsed files and search results."""

    def __init__(
        self,
        root: PathLike | None = None,
        *,
        ld_library_path: Sequence[str] | None = None,
        isa: str | None = None,
        elf_cache: ElfCache | None = None,
    ) -> None:
        if root is not None:
            require_root_directory(os.fspath(root))
        self.view = FileView(root)
        self.host_view = self.view if self.view.is_host else FileView(None)  # only to read outside programs
        if ld_library_path is None:
            ld_library_path = environment_ld_library_path()
        # As for the variable itself, an empty value means no LD_LIBRARY_PATH at all.
        self.ld_library_path = tuple(ld_library_path) if any(ld_library_path) else ()
        self.isa = isa
        self.elf_cache = elf_cache or ElfCache()
        self._envs: dict[tuple[EnvKey, str | None], Environment] = {}
        self._shared: dict[tuple[object, ...], SharedWalk] = {}
        self._isa_levels: dict[str, str | None] = {}
        self.fs = Filesystem(self.view, self.ld_library_path)

    def resolve(self, path: PathLike, *, at: str | None = None) -> Resolution:
        name = os.fspath(path)
        place = self.locate_program(name, at=at)
        return self.resolve_info(name, self.read_program(place), place=place)

    def read(self, path: str) -> ElfInfo:
        """read_elf through the shared cache: a program that is also a library is parsed once."""
        return self.read_program(self.locate_program(path))

    def locate_program(
        self, path: str, *, at: str | None = None, real_path: str | None = None
    ) -> ProgramLocation:
        """Where PATH is for the loader. Raises ElfError when a path under the root names nothing there."""
        if self.view.is_host:
            real = real_path or os.path.realpath(path)
            return ProgramLocation(path, real, real, _stat(path))
        inside = self.view.inside(path)
        if inside is None:
            target = place_in_root(os.path.basename(os.path.abspath(path)), at)
            real = join(self.view.assume_directory(directory_of(target)), target.rsplit("/", 1)[1])
            return ProgramLocation(path, target, real, _stat(path), placed=True)
        if at is not None:
            raise UsageError(
                f"{path} is inside the root (at {inside}); --at places a program from outside the root",
                fix="drop --at, or give the program's path outside the root",
            )
        found = self.view.locate(inside)
        if isinstance(found, str) or found.is_dir:
            problem = found if isinstance(found, str) else "a directory"
            raise ElfError(
                path, f"{problem} inside the root {self.view.root} (symlinks resolved in the root)"
            )
        return ProgramLocation(found.host_path, inside, found.real_path, found.st)

    def read_program(self, place: ProgramLocation) -> ElfInfo:
        """The program's ELF facts, read from the root for a program inside it (never through this
        machine's symlinks), from this machine otherwise."""
        view = self.host_view if place.placed or self.view.is_host else self.view
        found = view.locate(place.host_path if view.is_host else place.path)
        if isinstance(found, Located) and not found.is_dir:
            return self.elf_cache.info(found)
        if not view.is_host:
            raise ElfError(place.host_path, f"{found} inside the root {self.view.root}")
        return read_elf(place.host_path)  # raises the ElfError that names the problem

    def resolve_info(
        self,
        path: str,
        info: ElfInfo,
        *,
        real_path: str | None = None,
        place: ProgramLocation | None = None,
    ) -> Resolution:
        """Resolve a program already parsed. real_path: PATH with symlinks resolved, when the caller knows
        (this machine only); place: where the program is, from locate_program."""
        if place is None:
            place = self.locate_program(path, real_path=real_path)
        key = env_key(info)
        isa = None if key.musl else self._isa_for(info.machine)
        env = self._envs.get((key, isa))
        if env is None:
            env = build_environment(self.view, key, isa, self.elf_cache)
            self._envs[(key, isa)] = env
        start = ProgramStart(self.fs, env, path, info, place)
        shape = start.shape_key()
        shared = self._shared.get(shape)
        if shared is not None and shared.usable_for(info):
            return self._placed(reuse(shared, start.program.label, info), place)
        resolution = start.run()
        if start.shareable():
            self._shared[shape] = SharedWalk(resolution, frozenset(start.names_seen))
        return self._placed(resolution, place)

    def _placed(self, resolution: Resolution, place: ProgramLocation) -> Resolution:
        if self.view.is_host:
            return resolution
        return replace(resolution, program_path=place.path, placed_at=place.path if place.placed else None)

    def warnings(self) -> list[str]:
        """Warnings about the filesystem (corrupt cache, ld.so.conf loops) met so far."""
        return sorted({w for env in self._envs.values() for w in env.warnings})

    def _isa_for(self, machine: str) -> str | None:
        if machine not in self._isa_levels:
            level = host_isa_level(machine) if self.isa is None else normalise_isa(self.isa, machine)
            self._isa_levels[machine] = level
        return self._isa_levels[machine]


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def require_root_directory(root: str) -> None:
    """A root given by the user: it must exist, be a directory and be readable (else a one-line error)."""
    if not os.path.exists(root):
        raise ElfshipError(f"root {root} does not exist", fix="give the directory of a root filesystem")
    if not os.path.isdir(root):
        raise ElfshipError(f"root {root} is not a directory", fix="give the directory of a root filesystem")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ElfshipError(f"root {root} is not readable", fix="run as a user who can read it")
