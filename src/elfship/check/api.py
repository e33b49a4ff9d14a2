"""The check use cases as plain functions: one file against a named release, or against a root."""

from __future__ import annotations

from pathlib import Path

from elfship.check.batch import CheckRequest, check_in_root_and_run, root_target
from elfship.check.model import CheckResult
from elfship.check.named import check_info
from elfship.elf.reader import read_elf
from elfship.targets.model import Target


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
    request = CheckRequest(files=(str(path),), roots=(root,), at=at, run=run, timeout=timeout)
    return check_in_root_and_run(str(path), read_elf(str(path)), root, root_target(root), request)
