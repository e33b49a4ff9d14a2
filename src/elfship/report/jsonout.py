"""JSON documents on stdout: one object, schema-versioned, never mixed with logs."""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1


def dumps(document: dict[str, Any]) -> str:
    """One JSON document with the schema version first, as written to stdout (newline included)."""
    return json.dumps({"schema_version": SCHEMA_VERSION, **document}, indent=2, sort_keys=False) + "\n"


def emit(document: dict[str, Any]) -> None:
    """Write one JSON document to stdout with the schema version first."""
    sys.stdout.write(dumps(document))
    sys.stdout.flush()
