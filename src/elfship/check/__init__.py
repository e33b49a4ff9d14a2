"""Will this binary run there? Requirements (from the ELF reader and the resolver) x target -> findings.

from elfship.check import check_path, check_root
result = check_path("target/release/app", get_target("debian:10"))
result.verdict            # "runs" | "fails" | "unknown"
for f in result.findings: print(f.kind, f.message, f.fix)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from elfship.check.model import CheckResult, Finding, RunOutcome, Severity
from elfship.check.named import check_info
from elfship.check.rootcheck import check_in_root
from elfship.check.run import run_in_root
from elfship.elf import read_elf
from elfship.targets import Target, target_from_root


def check_path(path: str, target: Target) -> CheckResult:
    """Check one file against a named release. Raises ElfError for a file that is not ELF."""
    return check_info(read_elf(path), target)


def check_root(
    path: str, root: Path | str, *, run: bool = False, timeout: float = 10.0, at: str | None = None
) -> CheckResult:
    """Check one file against a real root filesystem; with run=True also start it there (in the sandbox,
    see elfship.sandbox) and record what happened.
    at: where a program from outside the root stands inside it (default /usr/local/bin/NAME)."""
    root = Path(root)
    result = check_in_root(path, read_elf(path), root, target_from_root(root), at=at)
    if not run:
        return result
    outcome = run_in_root(
        path, root, inside=result.placed_at, travelling=result.travelling, timeout=timeout, arch=result.arch
    )
    return replace(result, run=outcome)


__all__ = [
    "CheckResult",
    "Finding",
    "RunOutcome",
    "Severity",
    "check_in_root",
    "check_info",
    "check_path",
    "check_root",
    "run_in_root",
]
