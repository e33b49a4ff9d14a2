"""JSON documents on stdout: one object, schema-versioned, never mixed with logs."""

from __future__ import annotations

import json
import sys
from typing import Any

SCHEMA_VERSION = 1


def emit(document: dict[str, Any]) -> None:
    """Write one JSON document to stdout with the schema version first."""
    payload = {"schema_version": SCHEMA_VERSION, **document}
    json.dump(payload, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    sys.stdout.flush()
