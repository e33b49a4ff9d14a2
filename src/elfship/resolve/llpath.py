"""LD_LIBRARY_PATH as glibc's loader reads it: the one parser of that variable in elfship."""

from __future__ import annotations

import os


def parse_ld_library_path(value: str | None) -> tuple[str, ...]:
    """':' and ';' both separate elements (glibc's _dl_init_paths); unset or empty means no directories."""
    return tuple(value.replace(";", ":").split(":")) if value else ()


def environment_ld_library_path() -> tuple[str, ...]:
    """The caller's own LD_LIBRARY_PATH, for resolving as a program started from this shell would be."""
    return parse_ld_library_path(os.environ.get("LD_LIBRARY_PATH"))
