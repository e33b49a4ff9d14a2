"""Everything fixed for one (root, architecture, libc, loader, ISA level): built once, shared by programs."""

from __future__ import annotations

from elfship.abi import GLIBC_LOADERS, MUSL_ARCH_BY_MACHINE, musl_loader
from elfship.elf import ElfInfo
from elfship.elf.model import LibcFamily
from elfship.record import field, record
from elfship.resolve.ldcache import (
    MAX_CACHE_SIZE,
    CacheError,
    CacheFlags,
    LdCache,
    cache_flags_for,
    parse_cache,
)
from elfship.resolve.ldconf import LdConf, read_ld_so_conf
from elfship.resolve.loaderfacts import (
    LoaderFacts,
    hwcaps_subdirs,
    legacy_subdirs,
    musl_arch,
    read_loader_facts,
)
from elfship.resolve.probe import ElfCache, Expectation
from elfship.resolve.rootfs import OUTCOME_ABSENT, FileView

CACHE_PATH = "/etc/ld.so.cache"
MUSL_DEFAULT_PATH = ("/lib", "/usr/local/lib", "/usr/lib")
MAX_PATH_FILE = 1 << 20


@record
class EnvKey:
    musl: bool
    machine: str
    elf_class: int
    little_endian: bool
    e_machine: int
    interpreter: str | None


@record(frozen=False)
class Environment:
    """What the loader of one kind of program sees in one filesystem."""

    view: FileView
    key: EnvKey
    expect: Expectation
    interpreter: str  # the loader path (PT_INTERP, or the architecture's default for a library)
    isa: str | None
    elf_cache: ElfCache = field(default_factory=ElfCache)
    hwcaps: tuple[str, ...] = ()
    legacy: tuple[str, ...] = ()
    facts: LoaderFacts | None = None
    cache: LdCache | None = None
    cache_flags: CacheFlags = field(default_factory=lambda: cache_flags_for("", 64))
    conf: LdConf | None = None
    musl_path: tuple[str, ...] = ()
    musl_path_source: str = "default"
    warnings: list[str] = field(default_factory=list)
    memo: dict[object, object] = field(default_factory=dict)

    @property
    def musl(self) -> bool:
        return self.key.musl

    @property
    def hwcaps_priority(self) -> dict[str, int]:
        return {name: index + 1 for index, name in enumerate(self.hwcaps)}

    @property
    def subdirs(self) -> tuple[str, ...]:
        """Subdirectories tried in every search directory before the directory itself, best first."""
        return (*(f"glibc-hwcaps/{h}" for h in self.hwcaps), *self.legacy)


def env_key(info: ElfInfo) -> EnvKey:
    musl = info.libc.family is LibcFamily.MUSL or musl_arch(info.interpreter) is not None
    return EnvKey(musl, info.machine, info.elf_class, info.little_endian, info.e_machine, info.interpreter)


def build_environment(view: FileView, key: EnvKey, isa: str | None, elf_cache: ElfCache) -> Environment:
    expect = Expectation(key.elf_class, key.little_endian, key.e_machine, musl=key.musl)
    if key.musl:
        interpreter = key.interpreter or _default_musl_loader(key.machine)
        env = Environment(view, key, expect, interpreter, None, elf_cache)
        _load_musl_path(env)
        return env
    interpreter = key.interpreter or GLIBC_LOADERS.get((key.machine, key.elf_class), "")
    facts = read_loader_facts(view, interpreter or None, key.machine, key.elf_class)
    env = Environment(view, key, expect, interpreter, isa, elf_cache, facts=facts)
    env.hwcaps = hwcaps_subdirs(key.machine, isa) if facts.has_glibc_hwcaps else ()
    env.legacy = legacy_subdirs(facts, key.machine)
    env.cache_flags = cache_flags_for(key.machine, key.elf_class)
    _load_cache(env, key.little_endian)
    env.conf = read_ld_so_conf(view)
    env.warnings.extend(env.conf.warnings)
    return env


def _default_musl_loader(machine: str) -> str:
    return musl_loader(machine)


def _load_cache(env: Environment, little_endian: bool) -> None:
    # ld.so maps the cache only if it is a regular file it can read whole (_dl_sysdep_read_whole_file):
    # a FIFO, a device (a link to /dev/zero) or an absurdly large file is ignored with a warning, as the
    # loader would ignore it, and read never.
    data = env.view.read_file(CACHE_PATH, MAX_CACHE_SIZE)
    if isinstance(data, str):
        if data != OUTCOME_ABSENT:
            env.warnings.append(f"{CACHE_PATH}: {data}; the loader will not use it")
        return
    try:
        env.cache = parse_cache(data, CACHE_PATH, little_endian=little_endian)
    except CacheError as exc:
        where = "" if env.view.is_host else f" in {env.view.root}"
        env.warnings.append(
            f"{CACHE_PATH}{where} is corrupt ({exc}); the loader ignores it and searches only the "
            "default directories (fix: run ldconfig)"
        )
    if env.cache is not None:
        env.warnings.extend(env.cache.warnings)


def _load_musl_path(env: Environment) -> None:
    """musl reads PREFIX/etc/ld-musl-ARCH.path, PREFIX being two levels above the loader's own path."""
    arch = musl_arch(env.interpreter) or MUSL_ARCH_BY_MACHINE.get(env.key.machine, env.key.machine)
    parts = env.interpreter.split("/")
    prefix = "/".join(parts[:-2]) if env.interpreter.startswith("/") and len(parts) > 2 else ""
    path_file = f"{prefix}/etc/ld-musl-{arch}.path"
    # musl reads at most a bounded prefix of it; a FIFO or device is not read at all (musl would block on
    # a FIFO: we say so instead of hanging).
    data = env.view.read_file(path_file, MAX_PATH_FILE)
    if isinstance(data, bytes):
        env.musl_path = musl_path_elements(data.decode("utf-8", "surrogateescape"))
        env.musl_path_source = path_file
    elif data == OUTCOME_ABSENT:
        env.musl_path = MUSL_DEFAULT_PATH
    else:
        env.musl_path = ()  # musl: any error but ENOENT means an empty system path
        env.musl_path_source = path_file
        env.warnings.append(f"{path_file}: {data}; musl uses no system path")


def musl_path_elements(text: str) -> tuple[str, ...]:
    """musl's path_open: elements separated by ':' or newlines, runs of separators skipped."""
    return tuple(element for element in text.replace("\n", ":").split(":") if element)
