"""What a binary carries inside and loads: Rust crates, C libraries, libc, toolchains, system libraries.

Reads only (bounded, never executes the file); rendering lives in report/sbom_*.py. The package itself
imports nothing heavy: `build` and `check` use sbom.sections and sbom.record without paying for the
collector, which is loaded on first use of `inventory`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from elfship.sbom.model import Component, ComponentKind, Confidence, Inventory

if TYPE_CHECKING:
    from elfship.sbom.collect import inventory

__all__ = ["Component", "ComponentKind", "Confidence", "Inventory", "inventory"]


def __getattr__(name: str) -> Any:
    if name == "inventory":
        from elfship.sbom.collect import inventory

        return inventory
    raise AttributeError(name)
