"""The search order of glibc's ld.so and of musl's loader for one DT_NEEDED name.

glibc (elf/dl-load.c _dl_map_object), for a name without '/':
  1. DT_RPATH of the object that needs it, then of the object that loaded that one, up to the program;
     skipped entirely when the needing object has DT_RUNPATH (and an object with DT_RUNPATH has no RPATH);
  2. LD_LIBRARY_PATH (ignored for setuid/setgid programs);
  3. DT_RUNPATH of the needing object only;
  4. /etc/ld.so.cache, unless the entry is in a system directory and the needing object has DF_1_NODEFLIB;
  5. the built-in system directories, unless the needing object has DF_1_NODEFLIB.
In every directory of 1-3 and 5, the glibc-hwcaps subdirectories (and, before glibc 2.37, the legacy
tls/platform subdirectories) are tried first.
musl (ldso/dynlink.c load_library): LD_LIBRARY_PATH, then the RUNPATH-or-RPATH of the needing object and of
every object up the chain, then /etc/ld-musl-ARCH.path or /lib:/usr/local/lib:/usr/lib. No cache, no hwcaps.
"""

from __future__ import annotations

from collections.abc import Callable

from elfship.elf import ElfInfo
from elfship.record import field, record
from elfship.resolve.dst import Expanded, directory_of, expand_glibc, expand_musl, join
from elfship.resolve.environment import CACHE_PATH, Environment
from elfship.resolve.model import (
    VIA_CACHE,
    VIA_DEFAULT,
    VIA_DIRECT,
    VIA_LD_LIBRARY_PATH,
    VIA_RPATH,
    VIA_RUNPATH,
    SearchStep,
)
from elfship.resolve.probe import NEWER_KERNEL, WRONG_CLASS, WRONG_MACHINE, Probe, probe
from elfship.resolve.rootfs import OUTCOME_ABSENT, OUTCOME_NOT_DIR, OUTCOME_UNREADABLE, FileView

# Outcomes after which glibc tries the next directory of the same list. Any other failure in a directory
# that exists (ELOOP, ENAMETOOLONG) ends that list (open_path returns -1) and the search goes on with the
# next source. ENOTDIR continues: the "directory" is a file, so ld.so marks it nonexistent first.
GLIBC_CONTINUE = frozenset(
    {OUTCOME_ABSENT, OUTCOME_UNREADABLE, OUTCOME_NOT_DIR, WRONG_CLASS, WRONG_MACHINE, NEWER_KERNEL}
)
MUSL_CONTINUE = frozenset({OUTCOME_ABSENT, OUTCOME_UNREADABLE, OUTCOME_NOT_DIR, "name too long"})


@record(frozen=False)
class LoadedObject:
    """One object in the emulated process while it is being built (the program or a library)."""

    label: str  # how it is named in needed_by and edges
    path: str  # as the loader names it
    view: FileView  # the filesystem it lives in
    info: ElfInfo
    loader: LoadedObject | None  # the object whose DT_NEEDED made it load (glibc's l_loader)
    origin: str | None  # what $ORIGIN expands to for it
    found_via: str
    steps: tuple[SearchStep, ...]
    names: set[str] = field(default_factory=set)  # names that now refer to it
    needed_by: list[str] = field(default_factory=list)
    file_id: tuple[int, int] = (0, 0)
    host_path: str | None = None

    def chain(self) -> list[LoadedObject]:
        """This object and its loaders up to the program."""
        found: list[LoadedObject] = []
        node: LoadedObject | None = self
        while node is not None and node not in found:
            found.append(node)
            node = node.loader
        return found


@record
class Directory:
    path: str
    view: FileView


@record
class Group:
    source: str
    directories: tuple[Directory, ...]


@record
class SearchResult:
    probe: Probe | None  # the accepted file, or the one the loader stopped on (error set)
    path: str | None
    view: FileView | None
    via: str
    steps: tuple[SearchStep, ...]
    error: str | None = None
    other_class: tuple[str, ...] = ()  # files skipped for being of the wrong class or machine


@record(frozen=False)
class _Walk:
    """State of one search: the steps so far."""

    env: Environment
    name: str
    steps: list[SearchStep] = field(default_factory=list)
    other_class: list[str] = field(default_factory=list)

    def attempt(self, source: str, directory: Directory, path: str) -> tuple[SearchResult | None, str]:
        result = probe(directory.view, path, self.env.expect, self.env.elf_cache)
        shown = directory.view.absolute(path)
        self.steps.append(SearchStep(source, shown, result.outcome))
        if result.outcome in (WRONG_CLASS, WRONG_MACHINE):
            self.other_class.append(f"{shown} ({result.outcome})")
        if result.found:
            return self.done(result, shown, directory.view, source), result.outcome
        if result.fatal:
            return self.done(result, shown, directory.view, source, error=result.outcome), result.outcome
        return None, result.outcome

    def done(
        self,
        result: Probe | None,
        path: str | None,
        view: FileView | None,
        via: str,
        error: str | None = None,
    ) -> SearchResult:
        return SearchResult(result, path, view, via, tuple(self.steps), error, tuple(self.other_class))


def expand_list(
    env: Environment, elements: tuple[str, ...], owner: LoadedObject, secure: bool
) -> tuple[Directory, ...]:
    directories: list[Directory] = []
    for element in elements:
        expanded: Expanded | None
        if env.musl:
            expanded = expand_musl(element, origin=owner.origin)
        else:
            facts = env.facts
            assert facts is not None
            expanded = expand_glibc(
                element, origin=owner.origin, lib=facts.lib_dst, platform=facts.platform, secure=secure
            )
        if expanded is None or not expanded.path:
            continue
        # A directory relative to an object that lives outside the root travels with that object.
        view = owner.view if expanded.uses_origin else env.view
        directory = Directory(expanded.path, view)
        if directory not in directories:  # ld.so drops repeats within one list
            directories.append(directory)
    return tuple(directories)


def glibc_groups(
    env: Environment, needer: LoadedObject, ld_library_path: tuple[Directory, ...], secure: bool
) -> tuple[Group, ...]:
    groups: list[Group] = []
    if not needer.info.runpath:
        for owner in needer.chain():
            if owner.info.rpath and not owner.info.runpath:
                source = VIA_RPATH if owner is needer else f"{VIA_RPATH} of {owner.label}"
                groups.append(Group(source, expand_list(env, owner.info.rpath, owner, secure)))
    if ld_library_path:
        groups.append(Group(VIA_LD_LIBRARY_PATH, ld_library_path))
    if needer.info.runpath:
        groups.append(Group(VIA_RUNPATH, expand_list(env, needer.info.runpath, needer, secure)))
    return tuple(groups)


def musl_groups(
    env: Environment, needer: LoadedObject, ld_library_path: tuple[Directory, ...]
) -> tuple[Group, ...]:
    groups: list[Group] = []
    if ld_library_path:
        groups.append(Group(VIA_LD_LIBRARY_PATH, ld_library_path))
    for owner in needer.chain():
        elements = owner.info.runpath or owner.info.rpath
        if elements:
            kind = VIA_RUNPATH if owner.info.runpath else VIA_RPATH
            source = kind if owner is needer else f"{kind} of {owner.label}"
            groups.append(Group(source, expand_list(env, elements, owner, secure=False)))
    return tuple(groups)


def search_glibc(env: Environment, name: str, groups: tuple[Group, ...], nodeflib: bool) -> SearchResult:
    key = ("glibc", name, groups, nodeflib)
    cached = env.memo.get(key)
    if isinstance(cached, SearchResult):
        return cached
    walk = _Walk(env, name)
    result = _search_glibc(walk, groups, nodeflib)
    env.memo[key] = result
    return result


def _search_glibc(walk: _Walk, groups: tuple[Group, ...], nodeflib: bool) -> SearchResult:
    env = walk.env
    for group in groups:
        found = _search_group(walk, group, GLIBC_CONTINUE)
        if found is not None:
            return found
    found = _search_cache(walk, nodeflib)
    if found is not None:
        return found
    if nodeflib:
        walk.steps.append(
            SearchStep(VIA_DEFAULT, "(system directories)", "skipped: needer has DF_1_NODEFLIB")
        )
    else:
        facts = env.facts
        assert facts is not None
        default = Group(VIA_DEFAULT, tuple(Directory(d, env.view) for d in facts.system_dirs))
        found = _search_group(walk, default, GLIBC_CONTINUE)
        if found is not None:
            return found
    return walk.done(None, None, None, "missing")


def _search_group(walk: _Walk, group: Group, keep_going: frozenset[str]) -> SearchResult | None:
    for directory in group.directories:
        for sub in walk.env.subdirs:
            subdir = join(directory.path, sub)
            if not directory.view.is_dir(subdir):
                continue  # ld.so notes the subdirectory as absent once and never tries it again
            found, _ = walk.attempt(group.source, directory, join(subdir, walk.name))
            if found is not None:
                return found
        found, outcome = walk.attempt(group.source, directory, join(directory.path, walk.name))
        if found is not None:
            return found
        if outcome not in keep_going:
            return _stop_list(walk, group, outcome)
    return None


def _stop_list(walk: _Walk, group: Group, outcome: str) -> SearchResult | None:
    if walk.env.musl:
        return walk.done(None, None, None, "missing", error=f"search stopped: {outcome}")
    last = walk.steps[-1]
    walk.steps[-1] = SearchStep(
        last.source, last.path, f"{outcome} (rest of the {group.source} list skipped)"
    )
    return None


def _search_cache(walk: _Walk, nodeflib: bool) -> SearchResult | None:
    env = walk.env
    if env.cache is None:
        walk.steps.append(SearchStep(VIA_CACHE, CACHE_PATH, "no usable cache"))
        return None
    hit = env.cache.lookup(
        walk.name, env.cache_flags, env.hwcaps_priority, _isa_level_ok(env), _legacy_hwcap_ok(env)
    )
    if hit is None:
        walk.steps.append(SearchStep(VIA_CACHE, CACHE_PATH, "no entry"))
        return None
    facts = env.facts
    assert facts is not None
    if nodeflib and any(hit.startswith(d + "/") for d in facts.system_dirs):
        walk.steps.append(SearchStep(VIA_CACHE, hit, "skipped: needer has DF_1_NODEFLIB"))
        return None
    found, _ = walk.attempt(VIA_CACHE, Directory(directory_of(hit), env.view), hit)
    return found


def _isa_level_ok(env: Environment) -> Callable[[int], bool]:
    levels = {"x86-64-v2": 2, "x86-64-v3": 3, "x86-64-v4": 4}
    top = levels.get(env.isa or "", 1)

    def ok(level: int) -> bool:
        return level <= top

    return ok


def _legacy_hwcap_ok(env: Environment) -> Callable[[int], bool]:
    facts = env.facts
    legacy = facts is not None and facts.has_legacy_hwcaps
    allowed = (1 << 63) | (1 << 1) if env.key.machine == "x86_64" else (1 << 63)

    def ok(hwcap: int) -> bool:
        # glibc < 2.37 accepts entries whose hwcap bits this CPU has (x86_64, tls); 2.37+ skips them all.
        return legacy and not (hwcap & ~allowed)

    return ok


def search_musl(env: Environment, name: str, groups: tuple[Group, ...]) -> SearchResult:
    key = ("musl", name, groups)
    cached = env.memo.get(key)
    if isinstance(cached, SearchResult):
        return cached
    walk = _Walk(env, name)
    result = None
    default = Group(VIA_DEFAULT, tuple(Directory(d, env.view) for d in env.musl_path))
    for group in (*groups, default):
        result = _search_group(walk, group, MUSL_CONTINUE)
        if result is not None:
            break
    result = result or walk.done(None, None, None, "missing")
    env.memo[key] = result
    return result


def open_direct(env: Environment, name: str, needer: LoadedObject, secure: bool) -> SearchResult:
    """A DT_NEEDED entry with a '/' is opened as written (after $ORIGIN and friends), never searched."""
    directories = expand_list(env, (directory_of(name),), needer, secure)
    walk = _Walk(env, name)
    if not directories:
        walk.steps.append(SearchStep(VIA_DIRECT, name, "cannot expand the dynamic string tokens"))
        return walk.done(None, None, None, "missing", error="DST not allowed here")
    directory = directories[0]
    found, _ = walk.attempt(VIA_DIRECT, directory, join(directory.path, name.rsplit("/", 1)[1]))
    return found or walk.done(None, None, None, "missing")
