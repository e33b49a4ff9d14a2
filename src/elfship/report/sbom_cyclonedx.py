"""CycloneDX 1.6 JSON for inventories, built with cyclonedx-python-lib (imported only here, only when asked)."""

from __future__ import annotations

import json
import os
from typing import Any

from elfship import __version__
from elfship.errors import ToolMissingError
from elfship.sbom.model import Component, ComponentKind, Inventory

PROPERTY_PREFIX = "elfship:"
# CycloneDX identity confidence (0..1) for elfship's levels.
CONFIDENCE = {"exact": "1.0", "high": "0.8", "heuristic": "0.4"}
RECORDED = (".dep-v0", ".rust-deps-v0", ".go.buildinfo", ".comment", "dpkg:", "built by crate")


def to_cyclonedx(inventories: list[Inventory]) -> str:
    """One BOM: a single file is the BOM's subject; several files become application components, each
    with what it carries nested inside it."""
    try:
        from cyclonedx.model.bom import Bom
        from cyclonedx.output.json import JsonV1Dot6
    except ImportError:
        raise ToolMissingError(
            "cyclonedx-python-lib is not installed", fix="pip install cyclonedx-python-lib"
        ) from None
    bom = Bom()
    bom.metadata.tools.components.add(_tool())
    if len(inventories) == 1:
        subject = _file_component(inventories[0], "file-0")
        bom.metadata.component = subject
        parts = _parts(inventories[0], "file-0")
        for part in parts.values():
            bom.components.add(part)
        _dependencies(bom, subject, inventories[0], parts)
    else:
        for index, inv in enumerate(inventories):
            subject = _file_component(inv, f"file-{index}")
            parts = _parts(inv, f"file-{index}")
            for part in parts.values():
                subject.components.add(part)
            bom.components.add(subject)
            _dependencies(bom, subject, inv, parts)
    text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    return text


def validation_errors(document: str) -> str | None:
    """None when the document is valid CycloneDX 1.6 JSON (the library's own strict schema), else why not."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    return None if error is None else str(error)


def _tool() -> Any:
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType

    return CdxComponent(type=ComponentType.APPLICATION, name="elfship", version=__version__)


def _file_component(inv: Inventory, ref: str) -> Any:
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType

    return CdxComponent(
        type=ComponentType.APPLICATION if inv.file_kind != "shared-library" else ComponentType.LIBRARY,
        name=os.path.basename(inv.path) or inv.path,
        bom_ref=ref,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=inv.sha256)],
        properties=[
            Property(name=PROPERTY_PREFIX + "path", value=inv.path),
            Property(name=PROPERTY_PREFIX + "elf-kind", value=inv.file_kind),
            *(Property(name=PROPERTY_PREFIX + "source", value=s) for s in inv.sources),
        ],
    )


def _parts(inv: Inventory, prefix: str) -> dict[str, Any]:
    return {c.key: _component(c, f"{prefix}/{c.key}") for c in inv.components}


def _component(component: Component, ref: str) -> Any:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType
    from packageurl import PackageURL

    kind = ComponentType.APPLICATION if component.kind is ComponentKind.TOOLCHAIN else ComponentType.LIBRARY
    properties = [
        Property(name=PROPERTY_PREFIX + "component-kind", value=component.kind.value),
        Property(name=PROPERTY_PREFIX + "confidence", value=component.confidence.value),
        *(Property(name=PROPERTY_PREFIX + "evidence", value=e) for e in component.evidence),
    ]
    if component.path:
        properties.append(Property(name=PROPERTY_PREFIX + "loaded-from", value=component.path))
    if component.package:
        properties.append(Property(name=PROPERTY_PREFIX + "package", value=component.package))
    return CdxComponent(
        type=kind,
        name=component.name,
        version=component.version,
        bom_ref=ref,
        purl=PackageURL.from_string(component.purl) if component.purl else None,
        cpe=component.cpe,
        properties=properties,
        evidence=_evidence(component),
    )


def _evidence(component: Component) -> Any:
    """CycloneDX 1.6 identity evidence: how sure, and each signal as a method (a record the build left is
    manifest analysis; strings, banners and symbols are binary analysis)."""
    from decimal import Decimal

    from cyclonedx.model.component_evidence import (
        AnalysisTechnique,
        ComponentEvidence,
        Identity,
        IdentityField,
        Method,
    )

    confidence = Decimal(CONFIDENCE[component.confidence.value])
    methods = [
        Method(
            technique=AnalysisTechnique.MANIFEST_ANALYSIS
            if any(r in line for r in RECORDED)
            else AnalysisTechnique.BINARY_ANALYSIS,
            confidence=confidence,
            value=line,
        )
        for line in component.evidence
    ]
    field = IdentityField.PURL if component.purl else IdentityField.NAME
    return ComponentEvidence(identity=[Identity(field=field, confidence=confidence, methods=methods)])


def _dependencies(bom: Any, subject: Any, inv: Inventory, parts: dict[str, Any]) -> None:
    """The file depends on what it carries; crates on the crates .dep-v0 says they use."""
    bom.register_dependency(subject, list(parts.values()))
    crates = {f"{c.name}@{c.version}": parts[c.key] for c in inv.of_kind(ComponentKind.RUST_CRATE)}
    for component in inv.of_kind(ComponentKind.RUST_CRATE):
        uses = [crates[d] for d in component.dependencies if d in crates]
        if uses:
            bom.register_dependency(parts[component.key], uses)


def component_count(document: str) -> int:
    """How many components a CycloneDX JSON document lists at its top level (for summaries and tests)."""
    return len(json.loads(document).get("components", []))
