"""ld.so emulation: which files the loader would map for a program, found how, or why not.

A lazy package: importing one of its modules (resolve.dst, resolve.model) does not load the resolver; the
names below are loaded on first use.
"""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.resolve.engine import Resolver, resolve
    from elfship.resolve.model import Resolution, ResolvedLibrary, SearchStep

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "Resolution": "model",
    "ResolvedLibrary": "model",
    "Resolver": "engine",
    "SearchStep": "model",
    "resolve": "engine",
}
__all__ = [
    "Resolution",
    "ResolvedLibrary",
    "Resolver",
    "SearchStep",
    "resolve",
]
__getattr__ = lazy_exports(__name__, _HOMES)
