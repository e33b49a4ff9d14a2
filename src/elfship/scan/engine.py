"""Scan directory trees: every ELF file below them, resolved and summarised, on all cores.

Each file is parsed once (hard links and symlinks count once, by device and inode); each worker process
keeps one Resolver, so a library is parsed and searched for once per worker however many files need it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from elfship.abi import version_key
from elfship.elf import ElfInfo
from elfship.elf.constants import ELF_MAGIC
from elfship.errors import ElfError, ElfshipError
from elfship.record import field, record, replace
from elfship.resolve.engine import Resolver, require_root_directory
from elfship.resolve.llpath import environment_ld_library_path
from elfship.resolve.probe import ElfCache
from elfship.resolve.rootfs import FileView, Located

CHUNK = 48  # files per task: big enough to amortise pickling, small enough to balance two workers
PARALLEL_THRESHOLD = 150  # below this, starting worker processes costs more than it saves


@record
class FileReport:
    path: str
    kind: str
    libc: str
    machine: str
    glibc_needed: str | None  # highest GLIBC_x.y the file itself requires
    interpreter: str | None
    libraries: int  # objects the loader would map
    missing: tuple[str, ...]  # sonames not found (including a missing interpreter)
    error: str | None = None  # the file could not be read as ELF


@record
class ScanProblem:
    path: str
    problem: str


@record
class ScanSummary:
    directories: tuple[str, ...]
    files_seen: int  # regular files looked at (after de-duplication by inode)
    files: tuple[FileReport, ...]  # every ELF file, sorted by path
    problems: tuple[ScanProblem, ...]  # unreadable directories and files, malformed ELF
    warnings: tuple[str, ...]
    root: str | None = None
    workers: int = 1
    kinds: dict[str, int] = field(default_factory=dict)
    libc_families: dict[str, int] = field(default_factory=dict)
    glibc_versions: dict[str, int] = field(default_factory=dict)  # version -> files needing exactly it
    highest_glibc: str | None = None
    highest_glibc_files: tuple[str, ...] = ()
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)  # soname -> files that need it

    @property
    def elf_count(self) -> int:
        return sum(1 for f in self.files if f.error is None)


@record(frozen=False)
class _Found:
    """What the directory walk found: ELF files, the count of regular files, problems, skipped mounts."""

    files: list[str] = field(default_factory=list)
    regular: int = 0
    problems: list[ScanProblem] = field(default_factory=list)
    other_filesystems: list[str] = field(default_factory=list)


def find_elf_files(directories: Sequence[str], *, cross_filesystems: bool = False) -> _Found:
    """Every ELF file below the directories. Symlinks are not followed; each inode counts once; only
    regular files are opened; directories on another filesystem than their top are not entered unless
    cross_filesystems (so `scan /` does not wander into /proc, /sys or network mounts)."""
    seen: set[tuple[int, int]] = set()
    found = _Found()
    for top in directories:
        if not os.path.isdir(top):
            raise ElfshipError(f"{top} is not a directory", fix="give directories to scan")
        try:
            os.scandir(top).close()
        except OSError as exc:
            raise ElfshipError(
                f"cannot read {top} ({exc.strerror})", fix="scan a directory you can read"
            ) from None
        for path, st in _walk(os.path.realpath(top), found, cross_filesystems):
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            found.regular += 1
            if _is_elf(path, st, found.problems):
                found.files.append(path)
    return found


def _walk(top: str, found: _Found, cross_filesystems: bool) -> Iterator[tuple[str, os.stat_result]]:
    problems = found.problems
    device = os.stat(top).st_dev
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            problems.append(ScanProblem(directory, f"cannot read directory ({exc.strerror})"))
            continue
        subdirs: list[str] = []
        for entry in listing:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                problems.append(ScanProblem(entry.path, f"cannot stat ({exc.strerror})"))
                continue
            if stat.S_ISDIR(st.st_mode):
                # As find -xdev: only directories are judged by device. Files are not, because overlayfs
                # can report each layer's device for files of one container filesystem.
                if st.st_dev == device or cross_filesystems:
                    subdirs.append(entry.path)
                else:
                    found.other_filesystems.append(entry.path)
            elif stat.S_ISREG(st.st_mode):
                yield entry.path, st
        pending.extend(reversed(subdirs))


def _is_elf(path: str, st: os.stat_result, problems: list[ScanProblem]) -> bool:
    """Whether a regular file starts with the ELF magic, read without blocking and without side effects.

    Files shorter than the magic are never opened: that is every file of /proc and most of /sys, whose
    reads can consume (/proc/kmsg drains the kernel log) or block. The open refuses symlinks and never
    waits (a FIFO swapped in since the walk's lstat); fstat must still name the same regular file.
    """
    if st.st_size < len(ELF_MAGIC):
        return False
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        problems.append(ScanProblem(path, f"cannot read ({exc.strerror})"))
        return False
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            problems.append(ScanProblem(path, "changed while scanning (no longer the same regular file)"))
            return False
        return os.read(fd, len(ELF_MAGIC)) == ELF_MAGIC
    except OSError as exc:
        problems.append(ScanProblem(path, f"cannot read ({exc.strerror})"))
        return False
    finally:
        os.close(fd)


# Worker side --------------------------------------------------------------------------------------------
# Phase 1 parses every file once, spread over the workers, and hands the ElfInfo back. Phase 2 forks the
# workers again from a parent whose cache now holds every parse, so resolving never parses a scanned file
# twice, whichever worker gets it.

_ELF_CACHE = ElfCache()
_RESOLVER: Resolver | None = None


def _parse_chunk(paths: Sequence[str]) -> list[tuple[str, tuple[int, int, int, int], ElfInfo | str]]:
    """(path, cache key, ElfInfo or the problem) per file. ElfError does not pickle: send its text."""
    parsed: list[tuple[str, tuple[int, int, int, int], ElfInfo | str]] = []
    view = FileView(None)
    for path in paths:
        found = view.locate(path)
        if not isinstance(found, Located):
            continue
        try:
            info = _ELF_CACHE.info(found)
            # Only what resolving and the summary use crosses the process boundary: 2.5x less to pickle.
            slim = replace(info, sections=(), version_needs=(), version_definitions=())
            _ELF_CACHE.store_info(ElfCache.key(found), slim)  # this worker keeps no more than it sends
            parsed.append((path, ElfCache.key(found), slim))
        except ElfError as exc:
            _ELF_CACHE.store_info(ElfCache.key(found), ElfError(exc.path, exc.problem))  # no traceback kept
            parsed.append((path, ElfCache.key(found), exc.problem))
        except Exception as exc:  # one file must never end the scan of thousands
            parsed.append((path, ElfCache.key(found), _internal(exc)))
    return parsed


def _internal(exc: BaseException) -> str:
    """The problem line for an exception no check foresaw: a bug in elfship, said as such."""
    return f"internal error, please report it ({type(exc).__name__}: {str(exc)[:200]})"


def _quiet_worker() -> None:
    """Ctrl-C is the parent's to handle (it cancels the rest): workers must not print tracebacks. A worker
    starts with SIGINT blocked (see _ordered), so it ignores it before it can ever be delivered here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _init_resolver(root: str | None, ld_library_path: tuple[str, ...], isa: str | None) -> None:
    global _RESOLVER
    _RESOLVER = Resolver(root, ld_library_path=ld_library_path, isa=isa, elf_cache=_ELF_CACHE)


def _init_worker(root: str | None, ld_library_path: tuple[str, ...], isa: str | None) -> None:
    _quiet_worker()
    _init_resolver(root, ld_library_path, isa)


def _scan_chunk(paths: Sequence[str]) -> tuple[list[FileReport], list[str]]:
    assert _RESOLVER is not None
    reports = [scan_file(_RESOLVER, p) for p in paths]
    return reports, _RESOLVER.warnings()


def scan_file(resolver: Resolver, path: str) -> FileReport:
    """One file's line of the scan. Whatever the file holds, the answer is a report, never an exception."""
    try:
        return _scan_file(resolver, path)
    except Exception as exc:  # one file must never end the scan of thousands
        return FileReport(path, "unreadable", "unknown", "", None, None, 0, (), _internal(exc))


def _scan_file(resolver: Resolver, path: str) -> FileReport:
    try:
        info = resolver.read(path)
    except ElfError as exc:
        return FileReport(path, "unreadable", "unknown", "", None, None, 0, (), exc.problem)
    base = FileReport(
        path,
        info.kind.value,
        info.libc.family.value,
        info.machine,
        info.libc.min_version,
        info.interpreter,
        0,
        (),
    )
    if not info.is_dynamic:
        return base
    try:
        # The walk never follows a symlinked directory below real top directories: the path is real.
        resolution = resolver.resolve_info(path, info, real_path=path)
    except ElfshipError as exc:
        return replace(base, error=exc.one_line())
    missing = tuple(lib.soname for lib in resolution.missing)
    return replace(base, libraries=len(resolution.libraries), missing=missing)


# Driver -------------------------------------------------------------------------------------------------


def scan(
    directories: Sequence[str],
    *,
    root: str | None = None,
    ld_library_path: Sequence[str] | None = None,
    isa: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cross_filesystems: bool = False,
) -> ScanSummary:
    """Resolve every ELF file below DIRECTORIES. progress(done, total) is called as work completes."""
    if root is not None:
        require_root_directory(root)
    llp = tuple(ld_library_path) if ld_library_path is not None else environment_ld_library_path()
    found = find_elf_files(directories, cross_filesystems=cross_filesystems)
    files = found.files
    if workers is None:  # automatic: both cores, unless the job is too small to pay for the processes
        workers = min(2, os.cpu_count() or 1) if len(files) >= PARALLEL_THRESHOLD else 1
    workers = max(1, workers)
    reports, warnings = _run(files, root, llp, isa, workers, progress)
    if found.other_filesystems:
        shown = ", ".join(found.other_filesystems[:5]) + (", ..." if len(found.other_filesystems) > 5 else "")
        warnings.add(
            f"{len(found.other_filesystems)} entries on other filesystems not scanned ({shown}); "
            "--cross-filesystems scans them"
        )
    return summarise(directories, found.regular, reports, found.problems, warnings, root, workers)


def _run(
    files: list[str],
    root: str | None,
    llp: tuple[str, ...],
    isa: str | None,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[FileReport], set[str]]:
    chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
    total = 2 * len(files)  # each file is parsed, then resolved
    reports: list[FileReport] = []
    warnings: set[str] = set()
    if workers == 1:
        _init_resolver(root, llp, isa)
        for chunk in chunks:
            _parse_chunk(chunk)  # caches the slim parse, as the workers do: a scan keeps no section names
            chunk_reports, chunk_warnings = _scan_chunk(chunk)
            reports.extend(chunk_reports)
            warnings.update(chunk_warnings)
            if progress:
                progress(2 * len(reports), total)
        return reports, warnings
    return _run_pools(files, chunks, root, llp, isa, workers, progress, total)


def _run_pools(
    files: list[str],
    chunks: list[list[str]],
    root: str | None,
    llp: tuple[str, ...],
    isa: str | None,
    workers: int,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> tuple[list[FileReport], set[str]]:
    reports: list[FileReport] = []
    warnings: set[str] = set()
    done = 0
    context = multiprocessing.get_context("fork")  # phase 2 relies on inheriting the parent's cache
    shapes: dict[str, tuple[object, ...]] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet_worker) as pool:
        for parsed in _ordered(pool, _parse_chunk, chunks):
            for path, key, info in parsed:
                _ELF_CACHE.store_info(key, ElfError(path, info) if isinstance(info, str) else info)
                shapes[path] = _shape(info)
            done += len(parsed)
            if progress:
                progress(done, total)
    # Programs that load alike go to the same worker, so each shared walk is done once, not once per worker.
    by_shape = sorted(files, key=lambda f: shapes.get(f, ()))
    chunks = [by_shape[i : i + CHUNK] for i in range(0, len(by_shape), CHUNK)]
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(root, llp, isa)
    ) as pool:
        for chunk_reports, chunk_warnings in _ordered(pool, _scan_chunk, chunks):
            reports.extend(chunk_reports)
            warnings.update(chunk_warnings)
            if progress:
                progress(len(files) + len(reports), total)
    return reports, warnings


_T = TypeVar("_T")


def _shape(info: ElfInfo | str) -> tuple[object, ...]:
    if isinstance(info, str):
        return ()
    return (info.interpreter or "", info.needed, info.rpath, info.runpath, info.flags)


def _ordered(
    pool: ProcessPoolExecutor, work: Callable[[Sequence[str]], _T], chunks: list[list[str]]
) -> Iterator[_T]:
    futures: list[Future[_T]] = []
    try:
        # The workers are forked in the first submit. SIGINT stays blocked across it, so a Ctrl-C then never
        # reaches a child before _quiet_worker (Python's own after-fork hooks would print a traceback); the
        # parent receives it here, right after, and cancels the rest.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            futures = [pool.submit(work, chunk) for chunk in chunks]
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for future in futures:
            yield future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def summarise(
    directories: Sequence[str],
    regular: int,
    reports: list[FileReport],
    problems: list[ScanProblem],
    warnings: set[str],
    root: str | None,
    workers: int,
) -> ScanSummary:
    reports = sorted(reports, key=lambda r: r.path)
    good = [r for r in reports if r.error is None]
    problems = problems + [ScanProblem(r.path, r.error) for r in reports if r.error is not None]
    versions = Counter(r.glibc_needed for r in good if r.glibc_needed)
    highest = max(versions, key=version_key) if versions else None
    missing: dict[str, list[str]] = {}
    for report in good:
        for soname in report.missing:
            missing.setdefault(soname, []).append(report.path)
    return ScanSummary(
        directories=tuple(directories),
        files_seen=regular,
        files=tuple(reports),
        problems=tuple(sorted(problems, key=lambda p: p.path)),
        warnings=tuple(sorted(warnings)),
        root=root,
        workers=workers,
        kinds=dict(Counter(r.kind for r in good).most_common()),
        libc_families=dict(Counter(r.libc for r in good).most_common()),
        glibc_versions={v: versions[v] for v in sorted(versions, key=version_key, reverse=True)},
        highest_glibc=highest,
        highest_glibc_files=tuple(r.path for r in good if highest and r.glibc_needed == highest),
        missing={k: tuple(v) for k, v in sorted(missing.items(), key=lambda kv: (-len(kv[1]), kv[0]))},
    )
