"""ld.so emulation: which files the loader would map for a program, found how, or why not."""

from elfship.resolve.engine import Resolver, resolve
from elfship.resolve.model import Resolution, ResolvedLibrary, SearchStep

__all__ = ["Resolution", "ResolvedLibrary", "Resolver", "SearchStep", "resolve"]
