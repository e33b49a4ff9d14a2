"""What a binary carries inside and loads: Rust crates, C libraries, libc, toolchains, system libraries.

Reads only (bounded, never executes the file); rendering lives in report/sbom_*.py.
"""

from elfship.sbom.collect import inventory
from elfship.sbom.model import Component, ComponentKind, Confidence, Inventory

__all__ = ["Component", "ComponentKind", "Confidence", "Inventory", "inventory"]
