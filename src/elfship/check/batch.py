"""The `elfship check` use case: many files against many targets and roots, one result per pair.

The CLI parses arguments into a CheckRequest and calls `check_files`; what to say and which exit code
follow from the CheckBatch it returns. Named releases cost only the ELF reader and the release data: the
resolver (roots) and the sandbox (--run) are imported when a request asks for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from elfship.check.model import CheckResult
from elfship.check.named import check_info
from elfship.errors import EXIT_BAD_INPUT, EXIT_FAILS, EXIT_OK, EXIT_UNKNOWN, ElfError, UsageError
from elfship.record import record, replace
from elfship.targets.catalog import get_target, known_arches, normalise_arch, split_arch, supported_targets

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from pathlib import Path

    from elfship.elf.model import ElfInfo
    from elfship.targets.model import Target


@record
class CheckRequest:
    """What to check: each file against each named target and each root."""

    files: tuple[str, ...]
    targets: tuple[str, ...] = ()  # release names as typed: debian:11, debian:12/aarch64, supported
    roots: tuple[Path, ...] = ()
    arch: str | None = None  # architecture of the named targets (default: each file's own)
    assume_present: frozenset[str] = frozenset()  # sonames the user's servers are known to have
    at: str | None = None  # where a program from outside a root stands inside it
    run: bool = False  # also start each program in each root, in the sandbox
    timeout: float = 10.0
    unsafe_chroot: bool = False  # --run in a plain chroot instead of the sandbox (root only)


@record
class FileProblem:
    """A file that could not be checked at all (not ELF, unreadable, an architecture without data)."""

    path: str
    problem: str  # what is wrong, without the path
    line: str  # the whole message, with the path and, when known, the fix


@record
class CheckBatch:
    results: tuple[CheckResult, ...] = ()
    problems: tuple[FileProblem, ...] = ()

    @property
    def contradicted(self) -> tuple[CheckResult, ...]:
        """Results whose --run disagreed with the prediction: elfship was wrong, which is an error."""
        return tuple(r for r in self.results if r.prediction_held is False)

    def exit_code(self) -> int:
        """2 when a file could not be checked, 1 when anything fails (or a prediction was contradicted),
        3 when the answer rests on an unmeasured fact, else 0 (the contract in `elfship check --help`)."""
        verdicts = {r.verdict for r in self.results}
        if self.problems:
            return EXIT_BAD_INPUT
        if "fails" in verdicts or self.contradicted:
            return EXIT_FAILS
        return EXIT_UNKNOWN if "unknown" in verdicts else EXIT_OK


def validate(request: CheckRequest) -> None:
    """Reject a request that cannot be answered, before any work. Raises UsageError."""
    if not request.targets and not request.roots:
        raise UsageError(
            "nothing to check against", fix="add --target debian:11 (see `elfship targets`) or --root DIR"
        )
    if request.run and not request.roots:
        raise UsageError("--run needs --root DIR (the program is started inside that root)")
    if request.unsafe_chroot and not request.run:
        raise UsageError("--unsafe-chroot only applies to --run")
    if request.at is not None:
        _validate_at(request)


def check_files(request: CheckRequest) -> CheckBatch:
    """Every file of the request against every target and root. Raises UsageError for a bad request or an
    unknown target; a file that cannot be read is a FileProblem, and the others are still checked."""
    validate(request)
    roots = [(root, root_target(root)) for root in request.roots]
    results: list[CheckResult] = []
    problems: list[FileProblem] = []
    for path in request.files:
        if _is_payload(path):
            results.extend(_check_payload(path, request))
            continue
        try:
            info = _read(path, request.roots)
        except ElfError as exc:
            problems.append(FileProblem(path, exc.problem, exc.one_line()))
            continue
        problem = _arch_problem(request, info)
        if problem is not None:
            problems.append(FileProblem(path, problem, f"{path}: {problem}"))
            continue
        results.extend(_check_named(info, request))
        results.extend(check_in_root_and_run(path, info, root, target, request) for root, target in roots)
    return CheckBatch(tuple(results), tuple(problems))


def _check_named(info: ElfInfo, request: CheckRequest) -> Iterator[CheckResult]:
    for target in _named_targets(request, info):
        yield check_info(info, target, assume_present=request.assume_present)


def _is_payload(path: str) -> bool:
    """A directory or a wheel: checked member by member, with what it ships along."""
    return os.path.isdir(path) or (path.endswith(".whl") and os.path.isfile(path))


def _check_payload(path: str, request: CheckRequest) -> list[CheckResult]:
    """A directory or wheel: each of its programs and modules, with what it ships along."""
    from elfship.check.payload import payload_members  # zipfile: only wheels and directories pay for it

    if request.roots:
        raise UsageError(f"{path}: a directory or wheel is checked against named targets (--target) only")
    results = []
    with payload_members(path) as members:
        for member in members:
            for target in _named_targets(request, member.info):
                result = check_info(
                    member.info, target, assume_present=request.assume_present, shipped=member.shipped
                )
                results.append(replace(result, path=member.display))
    return results


def check_in_root_and_run(
    path: str, info: ElfInfo, root: Path, target: Target, request: CheckRequest
) -> CheckResult:
    """The prediction for `path` in `root` and, when asked, the run that proves or contradicts it."""
    from elfship.check.rootcheck import check_in_root  # the resolver: only roots pay for it

    result = check_in_root(path, info, root, target, at=request.at)
    if not request.run:
        return result
    from elfship.check.run import run_in_root  # the sandbox: only --run pays for it

    outcome = run_in_root(
        path,
        root,
        inside=result.placed_at,
        travelling=result.travelling,
        timeout=request.timeout,
        method="chroot" if request.unsafe_chroot else None,
        arch=result.arch,
    )
    return replace(result, run=outcome)


def root_target(root: Path) -> Target:
    """What a root offers, without the inventory of every library in it: a check needs the root's libc, its
    version nodes and its architecture; which sonames it has is asked of the root one name at a time."""
    from elfship.targets.root import target_from_root

    return target_from_root(root, base_sonames=False)


def _read(path: str, roots: tuple[Path, ...]) -> ElfInfo:
    if not roots:
        from elfship.elf.reader import read_elf

        return read_elf(path)
    from elfship.check.rootcheck import read_program

    return read_program(path, list(roots))  # a file under a --root is read through that root


def _arch_problem(request: CheckRequest, info: ElfInfo) -> str | None:
    """A file of an architecture elfship has no release data for, checked with no architecture asked: say
    so rather than answer for another architecture nobody asked about."""
    if request.arch or info.machine in known_arches() or all(split_arch(s)[1] for s in request.targets):
        return None
    return (
        f"built for {info.machine}, and elfship has release data for {', '.join(known_arches())} only "
        f"(fix: --target RELEASE/ARCH or --arch ARCH to ask about one of those)"
    )


def _named_targets(request: CheckRequest, info: ElfInfo) -> list[Target]:
    """Each named target as release + architecture: its own /ARCH, else --arch, else the file's own."""
    asked = request.arch
    default = normalise_arch(asked) if asked else info.machine if info.machine in known_arches() else "x86_64"
    targets: list[Target] = []
    for spec in request.targets:
        name, own = split_arch(spec)
        if own and asked and own != normalise_arch(asked):
            raise UsageError(
                f"--target {spec} names {own}, --arch names {asked}", fix="give one architecture"
            )
        arch = own or default
        expanded = (
            list(supported_targets(arch=arch)) if name == "supported" else [get_target(name, arch=arch)]
        )
        targets.extend(t for t in expanded if t not in targets)
    return targets


def _validate_at(request: CheckRequest) -> None:
    assert request.at is not None
    if not request.roots:
        raise UsageError("--at needs --root DIR (it says where the program stands inside that root)")
    if len(request.files) > 1 and not request.at.endswith("/"):
        raise UsageError(
            "--at PATH places one program",
            fix="check one FILE at a time, or give a directory: --at /opt/app/",
        )
    from elfship.resolve.placement import place_in_root

    place_in_root("NAME", request.at)  # a bad PATH is a usage error before any work
