"""Decide what goes into a bundle: the program, what the resolver finds for it, minus what the host must provide."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from elfship.bundle import libc_parts
from elfship.bundle.model import BundlePlan, Excluded, PlannedFile, Role
from elfship.bundle.policy import DEFAULT_EXCLUDES, ExcludeRule, is_glibc_part, matching_rule
from elfship.elf import read_elf
from elfship.elf.model import ElfInfo, Kind
from elfship.errors import ElfshipError, UsageError
from elfship.record import record
from elfship.resolve import resolve
from elfship.resolve.llpath import parse_ld_library_path
from elfship.resolve.model import Resolution, ResolvedLibrary

_STATIC_KINDS = (Kind.STATIC, Kind.STATIC_PIE)
# Names the layout uses at the top of OUT: a program called like one of them would collide with it.
_RESERVED_NAMES = frozenset({"bin", "lib", "libexec", "elfship-bundle.json"})


def resolve_on_host(path: str, ld_library_path: str | None) -> Resolution:
    """The one place the bundle asks the resolver: how this machine's loader would start the file."""
    directories = parse_ld_library_path(ld_library_path)  # as the loader splits it: ':' and ';'
    # Baseline: never a glibc-hwcaps (x86-64-v3, ...) build of a library, which would stop on an older CPU.
    return resolve(path, ld_library_path=directories, isa="baseline")


@record
class _Found:
    """A library the bundle will carry, with everyone who needs it."""

    soname: str
    host_path: str
    info: ElfInfo | None
    needed_by: tuple[str, ...]


def plan_bundle(
    program_path: str,
    *,
    adds: Sequence[str] = (),
    excludes: Sequence[str] = (),
    ld_library_path: str | None = None,
    gconv: str = "minimal",
) -> BundlePlan:
    """Everything to copy for one program, and how the launcher must start it."""
    info = read_elf(program_path)
    name = os.path.basename(os.path.abspath(program_path))
    if info.kind in _STATIC_KINDS:
        program = _program_file(program_path, info, reason="static: runs as is, nothing to bundle")
        return BundlePlan(
            program=info, program_path=program_path, name=name, files=(program,), links=(), loader=None
        )
    if name in _RESERVED_NAMES:
        raise UsageError(
            f"{program_path}: a program named {name!r} would collide with OUT/{name}/ in the bundle",
            fix="copy it under another name first",
        )
    if info.interpreter is None:
        raise UsageError(
            f"{program_path}: a {info.kind.value}, not a program with an ELF interpreter",
            fix="bundle the program that loads it, and pass this file with --add",
        )
    rules = tuple(ExcludeRule(p, "excluded with --exclude") for p in excludes) + DEFAULT_EXCLUDES
    added = {os.path.basename(p): (p, read_added(p)) for p in adds}
    resolutions = [resolve_on_host(program_path, ld_library_path)]
    resolutions += [
        resolve_on_host(path, ld_library_path) for path, added_info in added.values() if added_info.is_dynamic
    ]
    found, excluded = _walk(resolutions, rules, set(added))
    found = [f for f in found if f.soname not in added]
    parts = libc_parts.choose(resolutions[0], found, added, rules, program_path, gconv)
    # Loader and glibc first: a second name for the same file (musl's libc.so) becomes a link to them.
    files = [_program_file(program_path, info, reason="the program"), *parts.files]
    files += [_library_file(f) for f in found if not parts.covers(f)]
    files += [_added_file(path, added_info) for path, added_info in added.values()]
    files, links = _dedupe(files)
    warnings = list(parts.warnings) + _absolute_needed_warnings(resolutions)
    return BundlePlan(
        program=info,
        program_path=program_path,
        name=name,
        files=tuple(files),
        links=tuple(links) + parts.links,
        loader=parts.loader_setup(host_libraries_needed=bool(excluded)),
        excluded=tuple(excluded),
        warnings=tuple(warnings),
    )


def read_added(path: str) -> ElfInfo:
    """An --add file must be an ELF file the program loads (a library or plugin it dlopens)."""
    if os.path.isdir(path):
        raise UsageError(
            f"--add {path}: a directory", fix="pass each library the program dlopens with its own --add"
        )
    if not os.path.exists(path):
        raise UsageError(f"--add {path}: no such file", fix="check the path")
    return read_elf(path)


def _walk(
    resolutions: Sequence[Resolution], rules: tuple[ExcludeRule, ...], provided: set[str]
) -> tuple[list[_Found], list[Excluded]]:
    """Libraries reachable from the program (and --add files) without passing through an excluded one."""
    found: dict[str, _Found] = {}
    excluded: dict[str, Excluded] = {}
    for resolution in resolutions:
        libraries = resolution.by_soname()
        children: dict[str, list[str]] = {}
        for needer, needed in resolution.edges:
            children.setdefault(needer, []).append(needed)
        queue = list(children.get(resolution.program_name, ()))
        seen: set[str] = set()
        while queue:
            soname = queue.pop(0)
            if soname in seen:
                continue
            seen.add(soname)
            lib = libraries.get(soname)
            needed_by = tuple(_display_name(n, resolution) for n in (lib.needed_by if lib else ()))
            rule = matching_rule(soname, rules)
            if rule is not None and not is_glibc_part(soname):
                excluded.setdefault(soname, Excluded(soname, rule.pattern, rule.why, needed_by))
                continue
            if soname in provided or soname in found:  # an --add file, or already found for the program
                continue
            if lib is None or lib.host_path is None or lib.error:
                raise _not_found(soname, lib, resolution)
            found.setdefault(soname, _Found(soname, lib.host_path, lib.info, needed_by))
            queue.extend(children.get(soname, ()))
    return list(found.values()), list(excluded.values())


def _display_name(needer: str, resolution: Resolution) -> str:
    return os.path.basename(needer) if needer == resolution.program_name else needer


def _not_found(soname: str, lib: ResolvedLibrary | None, resolution: Resolution) -> ElfshipError:
    if lib is None:
        return ElfshipError(
            f"{soname}: the resolver did not report it", fix="run `elfship tree` on the program"
        )
    needers = ", ".join(_display_name(n, resolution) for n in lib.needed_by) or "the program"
    if lib.error:
        problem = (
            f"{soname} (needed by {needers}) found at {lib.path} but the loader would stop there: {lib.error}"
        )
    else:
        steps = (
            "; ".join(f"{s.source}: {s.path} ({s.outcome})" for s in lib.steps) or "no directory to search"
        )
        problem = f"{soname} (needed by {needers}) not found; searched {steps}"
    if lib.hint:
        problem += f"; {lib.hint}"
    return ElfshipError(
        problem,
        fix=f"install the package that provides {soname}, add its directory to LD_LIBRARY_PATH, "
        f"or pass --add /path/to/{soname}",
    )


def _program_file(path: str, info: ElfInfo, *, reason: str) -> PlannedFile:
    name = os.path.basename(os.path.abspath(path))
    dest = name if info.kind in _STATIC_KINDS else f"bin/{name}"
    return PlannedFile(
        dest=dest,
        source=os.path.realpath(path),
        role=Role.PROGRAM,
        reason=reason,
        size=os.path.getsize(path),
        strip_rpath=bool(info.rpath or info.runpath),
        executable=True,
    )


def _library_file(found: _Found) -> PlannedFile:
    info = found.info
    return PlannedFile(
        dest=f"lib/{os.path.basename(found.soname)}",
        source=os.path.realpath(found.host_path),
        role=Role.LIBRARY,
        reason=f"needed by {', '.join(found.needed_by) or 'the program'}",
        size=os.path.getsize(found.host_path),
        strip_rpath=bool(info and (info.rpath or info.runpath)),
    )


def _added_file(path: str, info: ElfInfo) -> PlannedFile:
    return PlannedFile(
        dest=f"lib/{os.path.basename(path)}",
        source=os.path.realpath(path),
        role=Role.ADDED,
        reason="--add",
        size=os.path.getsize(path),
        strip_rpath=bool(info.rpath or info.runpath),
    )


def _dedupe(files: Iterable[PlannedFile]) -> tuple[list[PlannedFile], list[tuple[str, str]]]:
    """One copy per destination; a second name for the same file becomes a link (musl's libc.so and loader)."""
    kept: list[PlannedFile] = []
    links: list[tuple[str, str]] = []
    by_dest: dict[str, PlannedFile] = {}
    by_source: dict[str, PlannedFile] = {}
    for planned in files:
        previous = by_dest.get(planned.dest)
        if previous is not None:
            if previous.source != planned.source:
                raise ElfshipError(
                    f"two different files want the name {planned.dest}: {previous.source} and {planned.source}",
                    fix="drop one of them (--exclude or fewer --add)",
                )
            continue
        twin = by_source.get(planned.source)
        if twin is not None and os.path.dirname(twin.dest) == os.path.dirname(planned.dest):
            links.append((planned.dest, os.path.basename(twin.dest)))
            by_dest[planned.dest] = planned
            continue
        kept.append(planned)
        by_dest[planned.dest] = planned
        by_source.setdefault(planned.source, planned)
    return kept, links


def _absolute_needed_warnings(resolutions: Sequence[Resolution]) -> list[str]:
    return [
        f"{lib.soname} is named by absolute path in DT_NEEDED: the bundle still loads it from there"
        for resolution in resolutions
        for lib in resolution.libraries
        if "/" in lib.soname
    ]
