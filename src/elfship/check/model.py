"""Results of a check: findings with their evidence, and a verdict per (file, target)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from elfship.record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any


class Severity(str, Enum):
    ERROR = "error"  # the loader (or the kernel) would refuse to start the program
    WARNING = "warning"  # it starts, but something may break later, or a fact is unknown
    UNKNOWN = "unknown"  # whether it starts rests on a fact nobody measured: the verdict is `unknown`
    INFO = "info"


# Finding kinds: part of the JSON contract (check.schema.json lists them).
VERSION_TOO_NEW = "version-too-new"
PRIVATE_VERSION = "private-version"
LIBRARY_MISSING = "library-missing"
LIBRARY_NOT_IN_BASE = "library-not-in-base"
LIBRARY_UNVERIFIED = "library-unverified"
VERSION_UNVERIFIED = "version-unverified"
SHIPPED_ALONG = "shipped-along"  # info: libraries that travel with the program ($ORIGIN), checked too
LIBRARY_UNLOADABLE = "library-unloadable"
LIBC_MISMATCH = "libc-mismatch"
INTERPRETER_MISSING = "interpreter-missing"
WRONG_ARCHITECTURE = "wrong-architecture"
ISA_LEVEL = "isa-level"
KERNEL_TOO_OLD = "kernel-too-old"
STATIC = "static"
STATIC_NSS = "static-nss"
NOT_A_PROGRAM = "not-a-program"
RESOLVER_WARNING = "resolver-warning"
EMBEDDED_LIBRARIES = "embedded-libraries"  # info: a static binary carries upstream C code (its CVEs)
# Run-time needs the loader does not see (check/runtime.py)
STATIC_OPENSSL_CA = "static-openssl-ca"  # an OpenSSL inside the program looks for CAs under its OPENSSLDIR
MAY_DLOPEN = "may-dlopen"  # sonames named in its strings, not in DT_NEEDED
STATIC_GCONV = "static-gconv"  # static glibc with iconv: gconv modules loaded at run time
# Kinds only `elfship build` reports about its own output (same Finding type, same JSON shape).
GLIBC_ABOVE_PIN = "glibc-above-pin"  # glibc-pinned output needs a newer GLIBC node than the pin
NOT_STATIC = "not-static"  # musl output still has an interpreter or NEEDED entries
EMBEDDED = "embedded"  # info: the inventory of what a static build carries

FINDING_KINDS = (
    VERSION_TOO_NEW,
    PRIVATE_VERSION,
    LIBRARY_MISSING,
    LIBRARY_NOT_IN_BASE,
    LIBRARY_UNVERIFIED,
    VERSION_UNVERIFIED,
    SHIPPED_ALONG,
    LIBRARY_UNLOADABLE,
    LIBC_MISMATCH,
    INTERPRETER_MISSING,
    WRONG_ARCHITECTURE,
    ISA_LEVEL,
    KERNEL_TOO_OLD,
    STATIC,
    STATIC_NSS,
    NOT_A_PROGRAM,
    RESOLVER_WARNING,
    EMBEDDED_LIBRARIES,
    STATIC_OPENSSL_CA,
    MAY_DLOPEN,
    STATIC_GCONV,
)


def _frozen(evidence: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(evidence or {}))


@record
class Finding:
    kind: str
    severity: Severity
    message: str
    fix: str | None = None
    # What the verdict rests on: library, version, symbols, search steps... (flattened into the JSON object)
    evidence: Mapping[str, Any] = field(default_factory=lambda: _frozen(None), hash=False)

    @staticmethod
    def make(kind: str, severity: Severity, message: str, fix: str | None = None, **evidence: Any) -> Finding:
        return Finding(kind, severity, message, fix, _frozen(evidence))


# RunOutcome.status: part of the JSON contract.
RUN_STARTED = "started"  # the loader handed over (exited, or still running with everything loaded)
RUN_DID_NOT_START = "did-not-start"  # the kernel or the loader refused it
RUN_TIMED_OUT = "timed-out"  # still running at the timeout, and not shown to have loaded everything


@record
class RunOutcome:
    """What happened when the program was really started inside the root (check --run)."""

    started: bool  # the loader handed over to the program (whatever the program then did)
    exit_code: int | None  # None when killed by the timeout
    timed_out: bool
    stderr_head: str  # the first lines the loader or program printed on stderr
    method: str  # the sandbox: "bwrap" | "unshare" | "chroot" (--unsafe-chroot)
    status: str = RUN_STARTED  # RUN_STARTED | RUN_DID_NOT_START | RUN_TIMED_OUT
    emulator: str = ""  # "qemu-aarch64": a program of another architecture ran through qemu-user


@record
class CheckResult:
    path: str
    target: str  # "debian:11" or "root:/path"
    findings: tuple[Finding, ...]
    run: RunOutcome | None = None
    placed_at: str | None = None  # against a root: where a program from outside was placed inside it
    arch: str = ""  # the architecture the answer is for (x86_64, aarch64); "" when not known
    # against a root: (host path, in-root path) of each library that travels with a program placed from
    # outside (the shipped-along finding's libraries); `--run` places them there too
    travelling: tuple[tuple[str, str], ...] = ()

    @property
    def verdict(self) -> str:
        """`fails` when something stops the program from starting; else `unknown` when the answer rests on
        a fact nobody measured (a library the target may or may not ship); else `runs`. Warnings do not
        change it."""
        severities = {f.severity for f in self.findings}
        if Severity.ERROR in severities:
            return "fails"
        return "unknown" if Severity.UNKNOWN in severities else "runs"

    @property
    def runs(self) -> bool:
        return self.verdict == "runs"

    @property
    def prediction_held(self) -> bool | None:
        # A run that timed out unconfirmed neither holds nor breaks the prediction.
        if self.run is None or self.run.status == RUN_TIMED_OUT:
            return None
        return self.run.started == self.runs

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)
