"""Audit results for people (per file: advisories, then what no advisory source covers) and machines."""

from __future__ import annotations

from typing import Any

from elfship.advisories import AuditResult, Database
from elfship.report.sbom_text import component_json


def audit_json(results: list[AuditResult], database: Database) -> dict[str, Any]:
    return {
        "database": {
            "path": database.path,
            "format": database.format,
            "advisories": len(database.advisories),
            "ecosystems": sorted(database.ecosystems),
            "skipped": list(database.skipped),
        },
        "vulnerable": any(r.vulnerable for r in results),
        "files": [_file_json(r) for r in results],
    }


def _file_json(result: AuditResult) -> dict[str, Any]:
    return {
        "path": result.inventory.path,
        "sha256": result.inventory.sha256,
        "checked": result.checked,
        "findings": [
            {
                "id": f.advisory.id,
                "aliases": list(f.advisory.aliases),
                "summary": f.advisory.summary,
                "url": f.advisory.url,
                "informational": f.advisory.informational,
                "component": f.component.name,
                "component_kind": f.component.kind.value,
                "installed": f.component.version,
                "fixed": list(f.fixed),
                "fix": f.fix,
            }
            for f in result.findings
        ],
        "not_covered": [{**component_json(c), "why": why} for c, why in result.not_covered],
    }


def audit_text(result: AuditResult) -> str:
    inv = result.inventory
    vulnerable = [f for f in result.findings if f.advisory.informational is None]
    head = f"{inv.path}: {len(vulnerable)} " + (
        "advisory applies" if len(vulnerable) == 1 else "advisories apply"
    )
    lines = [head + f" ({result.checked} components checked against this database)"]
    for f in result.findings:
        label = f"[{f.advisory.informational}] " if f.advisory.informational else ""
        aliases = f" ({', '.join(f.advisory.aliases)})" if f.advisory.aliases else ""
        lines.append(f"  {label}{f.advisory.id}{aliases}: {f.component.name} {f.component.version}")
        if f.advisory.summary:
            lines.append(f"      {f.advisory.summary}")
        lines.append(f"      fixed in: {', '.join(f.fixed) or 'no fixed release'}")
        lines.append(f"      fix: {f.fix}")
    if result.not_covered:
        lines.append("  not covered by this database (not known to be safe):")
        for component, why in result.not_covered:
            lines.append(f"    {component.kind.value:<14} {component.name} {component.version or '?'}: {why}")
    return "\n".join(lines)
