"""check --run: start the program inside the root for real, in the sandbox, and tell whether the loader let
it start. The program (and, to confirm a program still running at the timeout, the root's own loader in
list mode) only ever runs through elfship.sandbox, never as the host's root.
"""

from __future__ import annotations

import re
from pathlib import Path

from elfship.check.model import RUN_DID_NOT_START, RUN_STARTED, RUN_TIMED_OUT, RunOutcome
from elfship.check.placement import place_in_root
from elfship.check.rootcheck import read_program
from elfship.record import record, replace
from elfship.resolve.rootfs import FileView
from elfship.sandbox import Emulator, SandboxRun, choose_method, find_emulator, run_sandboxed, runs_natively
from elfship.targets.root import target_from_root

# What a loader (glibc's or musl's), the sandbox's exec, or the kernel prints when the program never ran.
LOADER_FAILURES = re.compile(
    r"error while loading shared libraries"
    r"|version `[^']+' not found"
    r"|Error loading shared library"
    r"|Error relocating"
    r"|bwrap: execvp|elfship-sandbox: exec |^exec /"  # the sandbox could not exec it (no interpreter...)
    r"|cannot execute binary file|Exec format error"
    r"|FATAL: kernel too old"
    r"|CPU ISA level is lower than required"
    r"|Syntax error: .* unexpected"  # execvp's /bin/sh fallback for an ELF the kernel refused
    r"|^qemu-[\w-]+: (Could not open|.*Invalid ELF|.*[Ee]xec format)",  # qemu-user could not load it
    re.MULTILINE,
)
NOT_LOADED = re.compile(r"=> not found|not found \(required by|Error loading shared library|Error relocating")
STDERR_LINES = 6
LINE_CHARS = 300  # a program may print one endless line
LIST_TIMEOUT = 10.0


def run_in_root(
    path: str,
    root: Path,
    *,
    inside: str | None = None,
    travelling: tuple[tuple[str, str], ...] = (),
    args: tuple[str, ...] = (),
    timeout: float = 10.0,
    method: str | None = None,
    arch: str | None = None,
) -> RunOutcome:
    """Start `path` in `root`. A program already inside the root runs at its own path; any other is placed
    at `inside` (default: /usr/local/bin/NAME), as the prediction assumed, and with it each library that
    travels with it, at the in-root path the check gave it (CheckResult.travelling: (host path, in-root
    path)). `arch`: the root's architecture
    ("" unknown; None: read from the root), which decides whether a foreign program runs through qemu-user."""
    own = _path_in_root(path, root)
    where = own or inside or place_in_root(Path(path).name)
    program = None if own else Path(path)
    along = () if own else tuple((Path(host), dest) for host, dest in travelling)
    method = method or choose_method()
    root_arch = target_from_root(root, base_sonames=False).arch if arch is None else arch
    emulator = _emulator(read_program(path, [root]).machine, root_arch, method)
    run = run_sandboxed(
        root,
        [where, *args],
        program=program,
        inside=where,
        along=along,
        timeout=timeout,
        method=method,
        emulator=emulator,
    )
    placed = _Placed(where, program, along)
    outcome = _finished(run) if not run.timed_out else _at_timeout(path, root, placed, run, emulator)
    return replace(outcome, emulator=emulator.name if emulator else "")


def _emulator(machine: str, root_arch: str, method: str) -> Emulator | None:
    """A program this machine cannot run runs through a static qemu-user, when one is installed, if the
    root is of the program's architecture (an aarch64 program in an x86_64 root stays refused: that machine
    would refuse it); never in the unsafe chroot, which has no place for it. Without qemu: refused, as before."""
    if runs_natively(machine) or method == "chroot" or root_arch not in ("", "unknown", machine):
        return None
    return find_emulator(machine)


def _finished(run: SandboxRun) -> RunOutcome:
    code = run.exit_code
    # 126/127 from the sandbox's exec, or a loader's complaint with a failing exit status: never ran.
    refused = code is not None and code != 0 and LOADER_FAILURES.search(run.stderr) is not None
    status = RUN_DID_NOT_START if refused else RUN_STARTED
    return RunOutcome(not refused, code, False, _head(run.stderr), run.method, status)


@record
class _Placed:
    where: str  # the program's in-root path
    program: Path | None  # its host file (None: the root's own)
    along: tuple[tuple[Path, str], ...]  # the libraries travelling with it: (host file, in-root path)


def _at_timeout(
    path: str, root: Path, placed: _Placed, run: SandboxRun, emulator: Emulator | None
) -> RunOutcome:
    """Still running: it started only if it was exec'd and its loader (if any) loads everything."""
    interpreter = read_program(path, [root]).interpreter
    note = ""
    loaded = run.exec_seen
    if loaded and interpreter is not None:
        listing = run_sandboxed(
            root,
            [interpreter, "--list", placed.where],
            program=placed.program,
            inside=placed.where,
            along=placed.along,
            timeout=LIST_TIMEOUT,
            method=run.method,
            emulator=emulator,
        )
        output = listing.stdout + listing.stderr
        loaded = not listing.timed_out and listing.exit_code == 0 and NOT_LOADED.search(output) is None
        if not loaded:
            note = f"{interpreter} --list did not load everything: {_head(output, 2)}"
    elif not loaded:
        note = "the sandbox had not started the program yet"
    status = RUN_STARTED if loaded else RUN_TIMED_OUT
    text = _head(run.stderr) if loaded else "\n".join(filter(None, [note, _head(run.stderr)]))
    return RunOutcome(loaded, None, True, text, run.method, status)


def _path_in_root(path: str, root: Path) -> str | None:
    """The root's own file at that path (its symlinks are resolved inside the root, as the prediction did,
    never through this machine's filesystem), or None for a program that comes from outside."""
    return FileView(root).inside(path)


def _head(text: str, lines: int = STDERR_LINES) -> str:
    return "\n".join(line[:LINE_CHARS] for line in text.strip().splitlines()[:lines])
