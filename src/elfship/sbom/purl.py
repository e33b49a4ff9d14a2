"""Package URLs (purl-spec) and CPEs for components. packageurl-python is imported only when needed."""

from __future__ import annotations

from elfship.errors import ToolMissingError


def purl(kind: str, name: str, version: str | None, **qualifiers: str) -> str:
    """pkg:<kind>/<namespace?>/<name>@<version>?<qualifiers>; kind is cargo, golang, deb/debian, generic."""
    try:
        from packageurl import PackageURL
    except ImportError:
        raise ToolMissingError(
            "packageurl-python is not installed", fix="pip install packageurl-python"
        ) from None
    namespace = None
    if "/" in kind:
        kind, namespace = kind.split("/", 1)
    if kind == "golang" and "/" in name:
        namespace, name = name.rsplit("/", 1)
    value: str = PackageURL(
        type=kind, namespace=namespace, name=name, version=version, qualifiers=qualifiers or None
    ).to_string()
    return value


def cpe(vendor_product: str, version: str | None) -> str:
    """CPE 2.3 formatted string; '*' for an unknown version (never a guess)."""
    vendor, product = vendor_product.split(":", 1)
    return f"cpe:2.3:a:{vendor}:{product}:{_cpe_escape(version) if version else '*'}:*:*:*:*:*:*:*"


def _cpe_escape(value: str) -> str:
    return "".join("\\" + ch if not (ch.isalnum() or ch in "._-") else ch for ch in value)
