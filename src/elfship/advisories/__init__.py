"""Offline advisory data (a RustSec advisory-db checkout, OSV JSON files or an OSV all.zip) matched against
the components an inventory lists. Version ranges are evaluated by `univers`, never by hand."""

from elfship.advisories.load import load_database
from elfship.advisories.match import AuditResult, Finding, audit
from elfship.advisories.model import Advisory, Database

__all__ = ["Advisory", "AuditResult", "Database", "Finding", "audit", "load_database"]
