"""One emulated program start: map the program's dependencies breadth first, as ld.so (or musl) would."""

from __future__ import annotations

import os
import stat

from elfship.abi import MUSL_RESERVED
from elfship.elf import ElfInfo, Kind
from elfship.record import field, record
from elfship.resolve.dst import directory_of, expand_glibc
from elfship.resolve.environment import CACHE_PATH, Environment, musl_path_elements
from elfship.resolve.model import (
    VIA_INTERPRETER,
    VIA_MISSING,
    ProgramLocation,
    Resolution,
    ResolvedLibrary,
    SearchStep,
)
from elfship.resolve.probe import probe
from elfship.resolve.rootfs import FileView
from elfship.resolve.search import (
    Directory,
    LoadedObject,
    SearchResult,
    glibc_groups,
    musl_groups,
    open_direct,
    search_glibc,
    search_musl,
)
from elfship.resolve.share import shape_key

NOT_LOADABLE = (Kind.OBJECT, Kind.CORE, Kind.OTHER)


@record
class Filesystem:
    """Where a start happens: the view of the root (or of this machine), and LD_LIBRARY_PATH as given."""

    view: FileView
    ld_library_path: tuple[str, ...]


def is_secure(path: str, st: os.stat_result | None) -> bool:
    """A setuid/setgid program (or one with file capabilities) runs with AT_SECURE: no LD_LIBRARY_PATH."""
    if st is None:
        return False
    if st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        return True
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


@record(frozen=False)
class _Missing:
    name: str
    result: SearchResult
    needed_by: list[str] = field(default_factory=list)


class ProgramStart:
    """One emulated program start."""

    def __init__(
        self, fs: Filesystem, env: Environment, label: str, info: ElfInfo, place: ProgramLocation
    ) -> None:
        self.fs = fs
        self.env = env
        self.info = info
        self.program_stat = place.st
        self.secure = is_secure(place.host_path, self.program_stat)
        self.program = self._program_object(label, place, info)
        self.by_name: dict[str, LoadedObject] = {}  # every name that now refers to a loaded object
        self.by_soname: dict[str, LoadedObject] = {}
        self.order: list[LoadedObject] = []
        self.ordered: set[int] = set()
        self.names_seen: set[str] = set()
        self.program_matched = False
        self.position: dict[int, int] = {id(self.program): 0}  # load order, for "first object named so"
        self._register(self.program)  # by its DT_SONAME only: ld.so names the main program ""
        self.interpreter: LoadedObject | None = None
        self.interpreter_missing: ResolvedLibrary | None = None
        self.missing: dict[str, _Missing] = {}
        self.edges: list[tuple[str, str]] = []
        self.by_file: dict[tuple[int, int], LoadedObject] = {}
        self.warnings: list[str] = list(env.warnings)
        self.ld_library_path = self._ld_library_path()

    def _program_object(self, label: str, place: ProgramLocation, info: ElfInfo) -> LoadedObject:
        # Against a root the program is always inside it (placed there when it comes from outside, see
        # engine.py): the kernel hands ld.so its real path, so $ORIGIN is a directory of the root.
        node = LoadedObject(
            label, place.path, self.fs.view, info, None, directory_of(place.real_path), "program", ()
        )
        if self.program_stat is not None:
            node.file_id = (self.program_stat.st_dev, self.program_stat.st_ino)
        return node

    def _ld_library_path(self) -> tuple[Directory, ...]:
        raw = self.fs.ld_library_path
        if not raw:
            return ()
        if self.secure:
            self.warnings.append("setuid/setgid program: the loader ignores LD_LIBRARY_PATH")
            return ()
        directories: list[Directory] = []
        for element in raw:
            for part in (
                musl_path_elements(element) if self.env.musl else element.replace(";", ":").split(":")
            ):
                directory = self._expand_llp(part or ".")
                if directory is not None and directory not in directories:
                    directories.append(directory)
        return tuple(directories)

    def _expand_llp(self, element: str) -> Directory | None:
        if self.env.musl:
            return Directory(element, self.env.view)  # musl does not expand tokens in LD_LIBRARY_PATH
        facts = self.env.facts
        assert facts is not None
        expanded = expand_glibc(
            element, origin=self.program.origin, lib=facts.lib_dst, platform=facts.platform
        )
        if expanded is None or not expanded.path:
            return None
        return Directory(expanded.path, self.program.view if expanded.uses_origin else self.env.view)

    # The walk --------------------------------------------------------------------------------------------

    def run(self) -> Resolution:
        if self.info.kind in NOT_LOADABLE:
            self.warnings.append(
                f"{self.program.label}: a {self.info.kind.value} file is never loaded by ld.so"
            )
            return self._result()
        if not self.info.is_dynamic and self.info.kind is not Kind.STATIC_PIE:
            return self._result()
        self._map_interpreter()
        queue = [self.program]
        index = 0
        while index < len(queue):
            needer = queue[index]
            index += 1
            for name in needer.info.needed:
                added = self._need(needer, name)
                if added is not None:
                    queue.append(added)
        return self._result()

    def shape_key(self) -> tuple[object, ...]:
        outside = self.program.view is not self.fs.view
        return (id(self.env), *shape_key(self.info, self.program.origin, self.secure, outside))

    def shareable(self) -> bool:
        """False when the walk involved the program itself, so another program would not walk the same."""
        labels = {lib.label for lib in self.order}
        return not self.program_matched and self.program.label not in labels | set(self.missing)

    def _need(self, needer: LoadedObject, name: str) -> LoadedObject | None:
        """Satisfy one DT_NEEDED entry; returns the object when it is newly mapped."""
        self.names_seen.add(name)
        existing = self._already_loaded(name)
        if existing is self.program:
            self.program_matched = True
        if existing is not None:
            self._link(needer, existing, name)
            return None
        result = self._search(needer, name)
        if result.probe is None or not result.probe.found or result.error:
            self._record_missing(needer, name, result)
            return None
        located = result.probe.located
        assert located is not None and result.probe.info is not None and result.path is not None
        same_file = self.by_file.get(located.file_id)
        if same_file is not None:  # another name for a file already mapped: ld.so reuses it
            self._register(same_file, name)
            self._link(needer, same_file, name)
            return None
        assert result.view is not None
        node = LoadedObject(
            label=name,
            path=result.path,
            view=result.view,
            info=result.probe.info,
            loader=needer,
            origin=directory_of(result.path),
            found_via=result.via,
            steps=result.steps,
            names={name},
            file_id=located.file_id,
            host_path=result.view.host(result.view.real_path(result.path)),
        )
        self._register(node)
        self.by_file[located.file_id] = node
        self._link(needer, node, name)
        return node

    def _link(self, needer: LoadedObject, target: LoadedObject, name: str) -> None:
        if needer.label not in target.needed_by:
            target.needed_by.append(needer.label)
        self.edges.append((needer.label, target.label))
        if target is not self.program and id(target) not in self.ordered:
            self.ordered.add(id(target))
            self.order.append(target)

    def _already_loaded(self, name: str) -> LoadedObject | None:
        interpreter = self.interpreter
        if self.env.musl:
            if interpreter is not None and (name == interpreter.path or name.startswith(MUSL_RESERVED)):
                return interpreter
            return self.by_name.get(name)
        # glibc _dl_map_object: the first object in load order known by that name or with that DT_SONAME.
        by_name, by_soname = self.by_name.get(name), self.by_soname.get(name)
        if by_soname is None or by_soname is by_name:
            found = by_name
        elif by_name is None:
            found = by_soname
        else:
            found = min(by_name, by_soname, key=lambda o: self.position[id(o)])
        if found is not None and name not in found.names:
            self._register(found, name)
        return found

    def _register(self, obj: LoadedObject, name: str | None = None) -> None:
        """Index a newly loaded object (or a new name for one) for _already_loaded."""
        self.position.setdefault(id(obj), len(self.position))
        for alias in [name] if name is not None else list(obj.names):
            obj.names.add(alias)
            self.by_name.setdefault(alias, obj)
        if name is None and obj.info.soname and not self.env.musl:
            self.by_soname.setdefault(obj.info.soname, obj)

    def _search(self, needer: LoadedObject, name: str) -> SearchResult:
        env = self.env
        if "/" in name:
            return open_direct(env, name, needer, self.secure)
        if env.musl:
            return search_musl(env, name, musl_groups(env, needer, self.ld_library_path))
        groups = glibc_groups(env, needer, self.ld_library_path, self.secure)
        return search_glibc(env, name, groups, needer.info.nodeflib)

    def _record_missing(self, needer: LoadedObject, name: str, result: SearchResult) -> None:
        entry = self.missing.get(name)
        if entry is None:
            entry = self.missing[name] = _Missing(name, result)
        if needer.label not in entry.needed_by:
            entry.needed_by.append(needer.label)
        self.edges.append((needer.label, name))

    def _map_interpreter(self) -> None:
        path = self.info.interpreter or (self.env.interpreter if self.env.musl else None)
        if not path:
            return
        view = self.env.view
        result = probe(view, path, self.env.expect, self.env.elf_cache)
        shown = view.absolute(path)
        if not result.found or result.located is None or result.info is None:
            problem = result.outcome if result.outcome != "absent" else None
            step = SearchStep(VIA_INTERPRETER, shown, result.outcome)
            label = path.rsplit("/", 1)[-1]
            hint = "the kernel cannot start the program without it" if problem is None else None
            self.interpreter_missing = ResolvedLibrary(
                label, None, None, VIA_MISSING, (), None, (step,), problem, hint
            )
            return
        label = result.info.soname or path.rsplit("/", 1)[-1]
        node = LoadedObject(
            label=label,
            path=shown,
            view=view,
            info=result.info,
            loader=None,
            origin=directory_of(shown),
            found_via=VIA_INTERPRETER,
            steps=(SearchStep(VIA_INTERPRETER, shown, "found"),),
            names={path, label},
            file_id=result.located.file_id,
            host_path=view.host(view.real_path(shown)),
        )
        self.interpreter = node
        self._register(node)
        self.by_file[node.file_id] = node

    # The answer ------------------------------------------------------------------------------------------

    def _result(self) -> Resolution:
        libraries = tuple(self._public(o) for o in self.order)
        interpreter = self._public(self.interpreter) if self.interpreter else self.interpreter_missing
        missing = [self._public_missing(m) for m in self.missing.values()]
        if self.interpreter_missing is not None:
            missing.insert(0, self.interpreter_missing)
        return Resolution(
            program=self.info,
            interpreter=interpreter,
            libraries=libraries,
            missing=tuple(missing),
            edges=tuple(dict.fromkeys(self.edges)),
            warnings=tuple(dict.fromkeys(self.warnings)),
            libc_family="musl" if self.env.musl else "glibc",
            root=self.fs.view.root,
            isa=self.env.isa if self.env.hwcaps else None,  # None: no glibc-hwcaps in play
            program_name=self.program.label,
        )

    @staticmethod
    def _public(obj: LoadedObject) -> ResolvedLibrary:
        return ResolvedLibrary(
            soname=obj.label,
            path=obj.path,
            host_path=obj.host_path,
            found_via=obj.found_via,
            needed_by=tuple(obj.needed_by),
            info=obj.info,
            steps=obj.steps,
        )

    def _public_missing(self, entry: _Missing) -> ResolvedLibrary:
        result = entry.result
        return ResolvedLibrary(
            soname=entry.name,
            path=None,
            host_path=None,
            found_via=VIA_MISSING,
            needed_by=tuple(entry.needed_by),
            info=None,
            steps=result.steps,
            error=result.error,
            hint=self._hint(entry.name, result),
        )

    def _hint(self, name: str, result: SearchResult) -> str | None:
        if result.error:
            where = result.path or name
            return f"the loader stops at {where}: {result.error}"
        if result.other_class:
            return f"only copies for another architecture were found: {', '.join(result.other_class[:3])}"
        if self.env.musl:
            return None
        if any("DF_1_NODEFLIB" in step.outcome for step in result.steps):
            return (
                "the needing object has DF_1_NODEFLIB (-z nodefaultlib): the loader skips the system directories, "
                "and ld.so.cache entries in them (fix: an RPATH/RUNPATH to the library's directory, or relink "
                "without -z nodefaultlib)"
            )
        return _ld_so_conf_hint(self.env, name)


def _ld_so_conf_hint(env: Environment, name: str) -> str | None:
    conf = env.conf
    if conf is None:
        return None
    for directory in conf.directories:
        candidate = f"{directory.rstrip('/')}/{name}"
        if probe(env.view, candidate, env.expect, env.elf_cache).found:  # a usable copy, not a 32-bit one
            if env.cache is None:
                return (
                    f"{candidate} exists in an ld.so.conf directory, but there is no usable {CACHE_PATH}: "
                    "the loader only finds ld.so.conf directories through the cache (fix: run ldconfig)"
                )
            return (
                f"{candidate} exists in an ld.so.conf directory but {CACHE_PATH} does not list it "
                "(fix: run ldconfig)"
            )
    return None
