"""The use case "every ELF file below these directories": walk, resolve in worker processes, summarise.

Built on the resolver (elfship.resolve), which it only calls: the loader emulation knows nothing of walks,
workers or summaries.
"""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.scan.engine import ScanSummary, scan

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "ScanSummary": "engine",
    "scan": "engine",
}
__all__ = [
    "ScanSummary",
    "scan",
]
__getattr__ = lazy_exports(__name__, _HOMES)
