"""ld.so emulation: which files the loader would map for a program, found how, or why not.

A lazy package: importing one of its modules (resolve.dst, resolve.model) does not load the resolver; the
names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elfship.resolve.engine import Resolver, resolve
    from elfship.resolve.model import Resolution, ResolvedLibrary, SearchStep

_HOMES = {
    "Resolver": "engine",
    "resolve": "engine",
    "Resolution": "model",
    "ResolvedLibrary": "model",
    "SearchStep": "model",
}
__all__ = ["Resolution", "ResolvedLibrary", "Resolver", "SearchStep", "resolve"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
