"""Offline advisory data (a RustSec advisory-db checkout, OSV JSON files or an OSV all.zip) matched against
the components an inventory lists. Version ranges are evaluated by `univers`, never by hand."""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.advisories.load import load_database
    from elfship.advisories.match import AuditResult, Finding, audit
    from elfship.advisories.model import Advisory, Database

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "Advisory": "model",
    "AuditResult": "match",
    "Database": "model",
    "Finding": "match",
    "audit": "match",
    "load_database": "load",
}
__all__ = [
    "Advisory",
    "AuditResult",
    "Database",
    "Finding",
    "audit",
    "load_database",
]
__getattr__ = lazy_exports(__name__, _HOMES)
