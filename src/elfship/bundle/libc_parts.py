"""The C library half of a bundle: the loader, glibc (whole but for large parts nothing links, or not at all), NSS and
gconv modules."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from typing import Protocol

from elfship.bundle.model import LoaderSetup, PlannedFile, Role
from elfship.bundle.policy import (
    GCONV_CONFIG,
    GCONV_MINIMAL,
    GLIBC_NSS,
    GLIBC_PARTS,
    GLIBC_WHEN_LINKED,
    ICONV_SYMBOLS,
    ExcludeRule,
    is_glibc_part,
    matching_rule,
)
from elfship.elf import read_elf, read_version_symbols
from elfship.elf.model import ElfInfo
from elfship.errors import ElfshipError
from elfship.record import record
from elfship.resolve.model import Resolution

LIB = "@DIR@/lib"


class _Library(Protocol):
    @property
    def soname(self) -> str: ...

    @property
    def host_path(self) -> str: ...


@record
class LibcParts:
    family: str  # "glibc" or "musl"
    bundled: bool  # False: glibc excluded, the target's own glibc and loader are used
    loader_path: str  # "lib/<loader>" inside the bundle, or the target's absolute loader path
    argv0: bool
    gconv: bool
    files: tuple[PlannedFile, ...]
    links: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()

    def covers(self, library: _Library) -> bool:
        """Libraries the target provides because glibc as a whole was left out."""
        return not self.bundled and is_glibc_part(library.soname)

    def loader_setup(self, *, host_libraries_needed: bool) -> LoaderSetup:
        args: tuple[str, ...] = ("--library-path", LIB)
        # --inhibit-cache keeps the target's /etc/ld.so.cache from offering its own copies of what we carry.
        # Keep the cache when glibc is the target's own (it finds libc there) or when excluded libraries such
        # as libGL must be found on the host, possibly in a directory only ld.so.conf knows.
        if self.family == "glibc" and self.bundled and not host_libraries_needed:
            args += ("--inhibit-cache",)
        env = (f"GCONV_PATH={LIB}/gconv",) if self.gconv else ()
        return LoaderSetup(path=self.loader_path, family=self.family, args=args, argv0=self.argv0, env=env)


def choose(
    resolution: Resolution,
    found: Sequence[_Library],
    added: Mapping[str, tuple[str, ElfInfo]],
    rules: tuple[ExcludeRule, ...],
    program_path: str,
    gconv: str = "minimal",
) -> LibcParts:
    """The loader and libc pieces for the program behind this resolution."""
    interpreter = resolution.program.interpreter or ""
    loader_name = os.path.basename(interpreter)
    loader_host = _loader_on_host(resolution, added, loader_name)
    if resolution.libc_family == "musl":
        return _musl(loader_name, loader_host)
    libc = next((lib for lib in found if lib.soname == "libc.so.6"), None)
    glibc_dir = os.path.dirname(os.path.realpath(libc.host_path if libc else loader_host))
    excluded_by = next((p for p in (*GLIBC_PARTS, loader_name) if matching_rule(p, rules)), None)
    if excluded_by is not None:
        return _target_glibc(resolution.program, interpreter, excluded_by)
    iconv_user = _iconv_user(
        [program_path, *(lib.host_path for lib in found if lib.soname not in GLIBC_PARTS)]
    )
    files = [_loader_file(loader_name, loader_host)]
    if iconv_user is not None:
        files += _gconv_files(glibc_dir, iconv_user, rules, everything=gconv == "all")
    bundled = [program_path, *(lib.host_path for lib in found if lib.soname not in GLIBC_PARTS)]
    wanted = {lib.soname for lib in found} | _needed_by(files, glibc_dir) | _named_in(bundled)
    files += _glibc_files(glibc_dir, wanted)
    warnings = []
    if os.path.dirname(os.path.realpath(loader_host)) != glibc_dir:
        warnings.append(
            f"the loader {loader_host} and libc.so.6 live in different directories: check they match"
        )
    return LibcParts(
        family="glibc",
        bundled=True,
        loader_path=f"lib/{loader_name}",
        argv0=_loader_knows(loader_host, b"--argv0\0"),
        gconv=iconv_user is not None and any(f.role is Role.GCONV for f in files),
        files=tuple(files),
        warnings=tuple(warnings),
    )


def _loader_on_host(
    resolution: Resolution, added: Mapping[str, tuple[str, ElfInfo]], loader_name: str
) -> str:
    if loader_name in added:
        return added[loader_name][0]
    interp = resolution.interpreter
    if interp is not None and interp.host_path and not interp.error:
        return interp.host_path
    wanted = resolution.program.interpreter
    hint = " (Debian: apt-get install musl)" if "musl" in loader_name else ""
    raise ElfshipError(
        f"the program's loader {wanted} is not on this machine",
        fix=f"install the C library that provides it{hint}, or pass --add /path/to/{loader_name}",
    )


def _musl(loader_name: str, loader_host: str) -> LibcParts:
    # musl's loader is its libc.so as well: one file; a NEEDED libc.so becomes a link to it (see collect).
    return LibcParts(
        family="musl",
        bundled=True,
        loader_path=f"lib/{loader_name}",
        argv0=_loader_knows(loader_host, b"argv0\0"),
        gconv=False,
        files=(_loader_file(loader_name, loader_host),),
    )


def _target_glibc(program: ElfInfo, interpreter: str, excluded_by: str) -> LibcParts:
    needs = program.libc.min_version or "its glibc version"
    return LibcParts(
        family="glibc",
        bundled=False,
        loader_path=interpreter,
        argv0=False,  # the target's loader may predate --argv0 (glibc 2.33); an unknown option would stop it
        gconv=False,
        files=(),
        warnings=(
            f"glibc left out ({excluded_by} is excluded, and glibc goes all or nothing): the bundle runs on the "
            f"target's glibc, which must be at least {needs}, and argv[0] becomes the bundled program's path",
        ),
    )


def _loader_file(loader_name: str, loader_host: str) -> PlannedFile:
    return PlannedFile(
        dest=f"lib/{loader_name}",
        source=os.path.realpath(loader_host),
        role=Role.LOADER,
        reason="runs the program (its ELF interpreter)",
        size=os.path.getsize(loader_host),
        executable=True,
    )


def _needed_by(files: Sequence[PlannedFile], glibc_dir: str) -> set[str]:
    """What glibc's own always-bundled pieces link: an older glibc's libnss_dns needs libresolv, say."""
    always = [os.path.join(glibc_dir, n) for n in (*GLIBC_PARTS, *GLIBC_NSS) if n not in GLIBC_WHEN_LINKED]
    paths = [*(f.source for f in files), *(p for p in always if os.path.exists(p))]
    return {soname for path in paths if _is_elf(path) for soname in read_elf(path).needed}


def _named_in(paths: Sequence[str]) -> set[str]:
    """glibc's large parts that a bundled file names as a whole string, as dlopen("libm.so.6") does: they go
    in as linked ones do, or the target's own libm would load next to the bundled libc."""
    from elfship.sbom.runtime_strings import read_runtime_strings

    return {s for path in paths for s in read_runtime_strings(path).sonames if s in GLIBC_WHEN_LINKED}


def _is_elf(path: str) -> bool:
    """gconv's directory holds its configuration files next to the modules."""
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _glibc_files(glibc_dir: str, linked: set[str]) -> list[PlannedFile]:
    files = []
    for name in (*GLIBC_PARTS, *GLIBC_NSS):
        path = os.path.join(glibc_dir, name)
        if not os.path.exists(path) or (name in GLIBC_WHEN_LINKED and name not in linked):
            continue
        nss = name in GLIBC_NSS
        reason = "name-service module glibc dlopens" if nss else "glibc is bundled whole"
        if name in GLIBC_WHEN_LINKED:
            reason = "part of glibc the bundle links or loads by name"
        files.append(
            PlannedFile(
                dest=f"lib/{name}",
                source=os.path.realpath(path),
                role=Role.NSS if nss else Role.GLIBC,
                reason=reason,
                size=os.path.getsize(path),
            )
        )
    return files


def _gconv_files(
    glibc_dir: str, iconv_user: str, rules: tuple[ExcludeRule, ...], *, everything: bool
) -> list[PlannedFile]:
    """glibc's gconv modules: which charsets a program converts is only known at run time, so either the
    core set with its configuration (minimal) or the whole directory (all). `--exclude 'gconv/*'` (or a
    narrower pattern) leaves modules out."""
    gconv_dir = os.path.join(glibc_dir, "gconv")
    scope = "--with-gconv all" if everything else "glibc's core charsets; --with-gconv all for every one"
    files = []
    for top, dirs, names in os.walk(gconv_dir):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(top, name)
            if not os.path.isfile(path):
                continue
            relative = os.path.relpath(path, gconv_dir)
            if not everything and not _minimal_gconv(relative):
                continue
            if any(fnmatch.fnmatchcase(f"gconv/{relative}", rule.pattern) for rule in rules):
                continue
            files.append(
                PlannedFile(
                    dest=f"lib/gconv/{relative}",
                    source=os.path.realpath(path),
                    role=Role.GCONV,
                    reason=f"iconv module ({os.path.basename(iconv_user)} calls iconv; {scope})",
                    size=os.path.getsize(path),
                )
            )
    return files


def _minimal_gconv(relative: str) -> bool:
    """The core configuration file and the modules it names; not gconv-modules.d/ (it names modules left
    out) nor gconv-modules.cache (glibc ignores it once GCONV_PATH is set)."""
    return relative == GCONV_CONFIG or relative.removesuffix(".so") in GCONV_MINIMAL


def _iconv_user(paths: Sequence[str]) -> str | None:
    """The first file that calls iconv_open and friends from libc (glibc will dlopen gconv modules)."""
    for path in paths:
        for library, versions in read_version_symbols(path).items():
            if library.startswith("libc.so") and any(
                ICONV_SYMBOLS.intersection(s) for s in versions.values()
            ):
                return path
    return None


def _loader_knows(loader_path: str, option: bytes) -> bool:
    """Whether the loader parses an option: its name is a string constant in the binary (glibc, musl)."""
    with open(loader_path, "rb") as handle:
        return option in handle.read()
