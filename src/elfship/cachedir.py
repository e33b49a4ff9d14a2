"""Where elfship keeps what it makes once and reuses (launchers, zig wrappers), and remembered answers."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from elfship.atomic import write_bytes

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/elfship, else ~/.cache/elfship (read each call: tests and users may change it)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "elfship"


# Remembered answers (rustc's host and sysroot, last build's cargo metadata): one small JSON file per key,
# named by the key's checksum and holding the key itself, so that a checksum collision, a damaged file or an
# oversized one reads as "not remembered", never as another key's answer.
def entry_path(directory: Path, key: str) -> Path:
    return directory / f"{zlib.crc32(key.encode()):08x}.json"


def recall(directory: Path, key: str, limit: int) -> dict[str, Any] | None:
    """The document remembered under `key` (read at most `limit` bytes), or None."""
    try:
        with open(entry_path(directory, key), "rb") as handle:
            data = handle.read(limit + 1)
        document = json.loads(data) if len(data) <= limit else None
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and document.get("key") == key else None


def remember(directory: Path, key: str, document: dict[str, Any]) -> None:
    """Keep `document` under `key` (written whole or not at all); a cache that cannot be written only costs
    the next call the work it saved."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_bytes(entry_path(directory, key), json.dumps({**document, "key": key}).encode())
    except OSError:
        pass
