"""What a binary carries inside and loads: Rust crates, C libraries, libc, toolchains, system libraries.

Reads only (bounded, never executes the file); rendering lives in report/sbom_*.py. The package itself
imports nothing heavy: `build` and `check` use sbom.sections and sbom.record without paying for the
collector, which is loaded on first use of `inventory`.
"""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.sbom.collect import inventory
    from elfship.sbom.model import Component, ComponentKind, Confidence, Inventory

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "Component": "model",
    "ComponentKind": "model",
    "Confidence": "model",
    "Inventory": "model",
    "inventory": "collect",
}
__all__ = [
    "Component",
    "ComponentKind",
    "Confidence",
    "Inventory",
    "inventory",
]
__getattr__ = lazy_exports(__name__, _HOMES)
