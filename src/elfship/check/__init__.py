"""Will this binary run there? Requirements (from the ELF reader and the resolver) x target -> findings.

from elfship.check import check_path, check_root
result = check_path("target/release/app", get_target("debian:10"))
result.verdict            # "runs" | "fails" | "unknown"
for f in result.findings: print(f.kind, f.message, f.fix)
"""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.check.api import check_path, check_root
    from elfship.check.model import CheckResult, Finding, RunOutcome, Severity
    from elfship.check.named import check_info
    from elfship.check.rootcheck import check_in_root
    from elfship.check.run import run_in_root

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "CheckResult": "model",
    "Finding": "model",
    "RunOutcome": "model",
    "Severity": "model",
    "check_in_root": "rootcheck",
    "check_info": "named",
    "check_path": "api",
    "check_root": "api",
    "run_in_root": "run",
}
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
__getattr__ = lazy_exports(__name__, _HOMES)
