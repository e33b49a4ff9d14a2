"""The entry points: resolve() for one program, Resolver for many on one filesystem.

`resolve(path)` answers for this machine, `resolve(path, root=DIR)` for a root filesystem. A Resolver keeps
what can be shared between programs (parsed ELF files, the cache, search results); `scan` uses one for a
whole tree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from elfship.elf import ElfInfo, read_elf
from elfship.errors import ElfshipError
from elfship.resolve.environment import Environment, EnvKey, build_environment, env_key
from elfship.resolve.loaderfacts import host_isa_level, normalise_isa
from elfship.resolve.model import Resolution
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
) -> Resolution:
    """What the loader would map for PATH, and why. Raises ElfError for a file that is not ELF."""
    return Resolver(root, ld_library_path=ld_library_path, isa=isa).resolve(path)


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
            check_root(os.fspath(root))
        self.view = FileView(root)
        self.host_view = self.view if self.view.is_host else FileView(None)
        if ld_library_path is None:
            ld_library_path = _split_env(os.environ.get("LD_LIBRARY_PATH", ""))
        # As for the variable itself, an empty value means no LD_LIBRARY_PATH at all.
        self.ld_library_path = tuple(ld_library_path) if any(ld_library_path) else ()
        self.isa = isa
        self.elf_cache = elf_cache or ElfCache()
        self._envs: dict[tuple[EnvKey, str | None], Environment] = {}
        self._shared: dict[tuple[object, ...], SharedWalk] = {}
        self._isa_levels: dict[str, str | None] = {}
        self.fs = Filesystem(self.view, self.host_view, self.ld_library_path)

    def resolve(self, path: PathLike) -> Resolution:
        name = os.fspath(path)
        return self.resolve_info(name, self.read(name))

    def read(self, path: str) -> ElfInfo:
        """read_elf through the shared cache: a program that is also a library is parsed once."""
        found = self.host_view.locate(path)
        if isinstance(found, Located) and not found.is_dir:
            return self.elf_cache.info(found)
        return read_elf(path)  # raises the ElfError that names the problem

    def resolve_info(self, path: str, info: ElfInfo, *, real_path: str | None = None) -> Resolution:
        """Resolve a program already parsed. real_path: PATH with symlinks resolved, when the caller knows."""
        key = env_key(info)
        isa = None if key.musl else self._isa_for(info.machine)
        env = self._envs.get((key, isa))
        if env is None:
            env = build_environment(self.view, self.host_view, key, isa, self.elf_cache)
            self._envs[(key, isa)] = env
        start = ProgramStart(self.fs, env, path, info, real_path or os.path.realpath(path))
        shape = start.shape_key()
        shared = self._shared.get(shape)
        if shared is not None and shared.usable_for(info):
            return reuse(shared, start.program.label, info)
        resolution = start.run()
        if start.shareable():
            self._shared[shape] = SharedWalk(resolution, frozenset(start.names_seen))
        return resolution

    def warnings(self) -> list[str]:
        """Warnings about the filesystem (corrupt cache, ld.so.conf loops) met so far."""
        return sorted({w for env in self._envs.values() for w in env.warnings})

    def _isa_for(self, machine: str) -> str | None:
        if machine not in self._isa_levels:
            level = host_isa_level(machine) if self.isa is None else normalise_isa(self.isa, machine)
            self._isa_levels[machine] = level
        return self._isa_levels[machine]


def check_root(root: str) -> None:
    if not os.path.exists(root):
        raise ElfshipError(f"root {root} does not exist", fix="give the directory of a root filesystem")
    if not os.path.isdir(root):
        raise ElfshipError(f"root {root} is not a directory", fix="give the directory of a root filesystem")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ElfshipError(f"root {root} is not readable", fix="run as a user who can read it")


def _split_env(value: str) -> list[str]:
    # glibc splits LD_LIBRARY_PATH on ':' and ';'; an empty variable means unset.
    return value.replace(";", ":").split(":") if value else []
