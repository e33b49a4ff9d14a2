"""The use case "every ELF file below these directories": walk, resolve in worker processes, summarise.

Built on the resolver (elfship.resolve), which it only calls: the loader emulation knows nothing of walks,
workers or summaries.
"""

from __future__ import annotations

from elfship.scan.engine import ScanSummary, scan

__all__ = ["ScanSummary", "scan"]
