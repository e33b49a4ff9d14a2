"""Where elfship keeps what it makes once and reuses: launchers, zig wrappers, remembered tool facts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/elfship, else ~/.cache/elfship (read each call: tests and users may change it)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "elfship"
