"""Errors that reach the user as one line, and the exit codes every command shares."""

from __future__ import annotations

# Exit codes are part of the public contract (documented in README and --help).
EXIT_OK = 0
EXIT_FAILS = 1  # the question was answered and the answer is "no" (check fails, build fails)
EXIT_BAD_INPUT = 2  # usage error, unreadable or malformed input
EXIT_UNKNOWN = 3  # nothing failed, but the answer rests on a fact nobody measured (check: verdict unknown)
EXIT_INTERRUPTED = 130


class ElfshipError(Exception):
    """An error with a message fit for one line of output and an exit code."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class ElfError(ElfshipError):
    """A file that is not ELF, or whose ELF structures are malformed."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UsageError(ElfshipError):
    """Bad arguments: the user can fix the command line."""


class ToolMissingError(ElfshipError):
    """A tool elfship needs (cargo, zig, a C compiler) is not installed."""
