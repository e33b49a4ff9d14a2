"""Inventories for people (a table per file) and machines (the sbom --json contract)."""

from __future__ import annotations

from typing import Any

from elfship.report.table import table_lines
from elfship.sbom.model import Component, ComponentKind, Inventory

KIND_ORDER = (
    ComponentKind.C_LIBRARY,
    ComponentKind.LIBC,
    ComponentKind.RUST_CRATE,
    ComponentKind.GO_MODULE,
    ComponentKind.SYSTEM_LIBRARY,
    ComponentKind.TOOLCHAIN,
)
MAX_CRATES_SHOWN = 40


def component_json(component: Component) -> dict[str, Any]:
    return {
        "name": component.name,
        "version": component.version,
        "kind": component.kind.value,
        "confidence": component.confidence.value,
        "evidence": list(component.evidence),
        "purl": component.purl,
        "cpe": component.cpe,
        "ecosystem": component.ecosystem,
        "package": component.package,
        "source_package": component.source_package,
        "path": component.path,
        "dependencies": list(component.dependencies),
        "count": component.count,
    }


def inventory_json(inv: Inventory) -> dict[str, Any]:
    return {
        "path": inv.path,
        "kind": inv.file_kind,
        "sha256": inv.sha256,
        "sources": list(inv.sources),
        "notes": list(inv.notes),
        "components": [component_json(c) for c in inv.components],
    }


def summary_line(inv: Inventory) -> str:
    """'embeds OpenSSL 3.6.3, libpq 18.6, SQLite 3.39.0; 42 crates': the one line a build prints."""
    libs = [f"{c.name} {c.version or '(version not recorded)'}" for c in inv.embedded_c_libraries]
    crates = inv.of_kind(ComponentKind.RUST_CRATE)
    parts = []
    if libs:
        parts.append("embeds " + ", ".join(libs))
    if crates:
        how = "exact" if any(c.confidence.value == "exact" for c in crates) else "heuristic"
        parts.append(f"{len(crates)} crates ({how})")
    return "; ".join(parts) if parts else "no embedded library found"


def to_table(inv: Inventory) -> str:
    lines = [f"{inv.path} [{inv.file_kind}]: {summary_line(inv)}"]
    rows: list[tuple[str, str, str, str, str]] = []
    for kind in KIND_ORDER:
        items = inv.of_kind(kind)
        shown = items if kind is not ComponentKind.RUST_CRATE else items[:MAX_CRATES_SHOWN]
        for c in shown:
            rows.append((kind.value, c.name, c.version or "?", c.confidence.value, _evidence(c)))
        if len(shown) < len(items):
            rows.append((kind.value, f"(+{len(items) - len(shown)} more: --json)", "", "", ""))
    lines += table_lines(rows, indent="  ")
    lines.extend(f"  note: {n}" for n in inv.notes)
    return "\n".join(lines)


def _evidence(component: Component) -> str:
    text = "; ".join(component.evidence)
    return text if len(text) <= 110 else text[:107] + "..."
