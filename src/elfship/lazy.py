"""Lazy packages: a package names its public API, and each name is imported from its home module on first use.

Importing one module of a package (``elfship.elf.model``, ``elfship.targets.catalog``) then costs only that
module, not every sibling the package re-exports. Start-up time is paid on every call of the CLI, so a
command pays only for the layers it reaches.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A PEP 562 module ``__getattr__`` for *package*: ``homes`` maps each exported name to the submodule
    (relative to *package*) that defines it."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return __getattr__
