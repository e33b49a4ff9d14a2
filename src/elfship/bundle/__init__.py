"""Bundle a dynamic ELF with its libraries and loader into a layout that runs on an older or bare Linux."""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.bundle.api import choose_format, default_output, make_bundle
    from elfship.bundle.collect import plan_bundle
    from elfship.bundle.model import BundleEntry, BundlePlan, BundleResult, Excluded, Format, Role
    from elfship.bundle.policy import DEFAULT_EXCLUDES

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "BundleEntry": "model",
    "BundlePlan": "model",
    "BundleResult": "model",
    "DEFAULT_EXCLUDES": "policy",
    "Excluded": "model",
    "Format": "model",
    "Role": "model",
    "choose_format": "api",
    "default_output": "api",
    "make_bundle": "api",
    "plan_bundle": "collect",
}
__all__ = [
    "DEFAULT_EXCLUDES",
    "BundleEntry",
    "BundlePlan",
    "BundleResult",
    "Excluded",
    "Format",
    "Role",
    "choose_format",
    "default_output",
    "make_bundle",
    "plan_bundle",
]
__getattr__ = lazy_exports(__name__, _HOMES)
