"""SPDX 2.3 JSON for inventories: one package per file and per component, purls and CPEs as external refs."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from elfship import __version__
from elfship.sbom.model import Component, ComponentKind, Inventory

NOASSERTION = "NOASSERTION"


def to_spdx(inventories: list[Inventory], *, created: datetime | None = None) -> str:
    when = (created or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    names = ", ".join(os.path.basename(i.path) for i in inventories)
    packages: list[dict[str, Any]] = []
    relationships: list[dict[str, str]] = []
    for index, inv in enumerate(inventories):
        file_id = f"SPDXRef-File{index}-{_id(os.path.basename(inv.path))}"
        packages.append(_file_package(inv, file_id))
        relationships.append(_rel("SPDXRef-DOCUMENT", "DESCRIBES", file_id))
        for component in inv.components:
            component_id = f"SPDXRef-File{index}-{_id(component.key)}"
            packages.append(_package(component, component_id))
            how = "DEPENDS_ON" if component.kind is ComponentKind.SYSTEM_LIBRARY else "CONTAINS"
            relationships.append(_rel(file_id, how, component_id))
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"elfship sbom {names}",
        "documentNamespace": f"https://elfship.invalid/spdx/{uuid.uuid4()}",
        "creationInfo": {"created": when, "creators": [f"Tool: elfship-{__version__}"]},
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(document, indent=2)


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:120]


def _rel(element: str, kind: str, related: str) -> dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


def _file_package(inv: Inventory, spdx_id: str) -> dict[str, Any]:
    return {
        "SPDXID": spdx_id,
        "name": os.path.basename(inv.path) or inv.path,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "primaryPackagePurpose": "APPLICATION" if inv.file_kind != "shared-library" else "LIBRARY",
        "checksums": [{"algorithm": "SHA256", "checksumValue": inv.sha256}],
        "comment": f"{inv.path} [{inv.file_kind}]",
    }


def _package(component: Component, spdx_id: str) -> dict[str, Any]:
    refs = []
    if component.purl:
        refs.append(
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": component.purl,
            }
        )
    if component.cpe:
        refs.append(
            {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": component.cpe}
        )
    package: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": component.name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "primaryPackagePurpose": "APPLICATION" if component.kind is ComponentKind.TOOLCHAIN else "LIBRARY",
        "externalRefs": refs,
        "comment": f"{component.kind.value}, {component.confidence.value}: " + "; ".join(component.evidence),
    }
    if component.version:
        package["versionInfo"] = component.version
    return package
